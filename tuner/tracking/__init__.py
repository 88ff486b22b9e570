"""MLflow: the sweep's parent and trial runs, and the UI server over them."""
