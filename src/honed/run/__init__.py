"""One run: its plan (checked once), the evaluation that runs its workers, the target it runs on."""
