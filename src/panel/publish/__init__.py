"""What readers see: per-tool Markdown reports, comparison pages, the static site. Everything is
built from the store and rendered through one template module (panel.publish.render)."""
