"""What users edit: the workspace, tool briefs, personas and their templates, vote files. Every
file is untrusted and checked here, with errors that name the file and field."""
