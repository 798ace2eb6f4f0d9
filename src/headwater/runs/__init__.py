"""Flow runs: the state machine (`model`), the runs table (`ledger`), the scheduler, the run body
(`task`), and its executors (the embedded pool in `executor`, Celery in `celery_app`)."""
