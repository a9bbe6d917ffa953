"""The SQLite store: every brief, persona version, run, call, verdict, panel, vote and comparison.
`db` opens and migrates it, `store` writes, `queries` reads. All of panel's SQL lives here."""
