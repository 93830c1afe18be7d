#!/usr/bin/env python3
"""Cancel the Slurm job of a run that went NaN or diverged:
``sweeptui watch DIR --on-issue 'python3 stop_slurm_job.py'``.

The job leaves its id in its run directory (``slurm_job_id``), e.g. in the batch script:
``echo "$SLURM_JOB_ID" > "$RUN_DIR/slurm_job_id"``. For a job array use
``"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"`` so that only this task is cancelled.
"""

import json
import subprocess
import sys
from pathlib import Path

DOOMED = {"nan_or_inf_metric", "divergence"}

issue = json.load(sys.stdin)
if issue["type"] not in DOOMED or not issue.get("run_dir"):
    sys.exit(0)
run_dir = Path(issue["run_dir"])
id_file = (run_dir if run_dir.is_dir() else run_dir.parent) / "slurm_job_id"
try:
    job = id_file.read_text().split()[0]
except (OSError, IndexError):
    sys.exit(f"{issue['run']}: no Slurm job id at {id_file}")
subprocess.run(["scancel", job], check=False)
print(f"{issue['run']}: {issue['message']}; cancelled Slurm job {job}")
