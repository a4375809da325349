"""`hfcheck watch`: the service that keeps the archive whole and says so (issue: watch)."""
