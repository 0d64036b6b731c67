"""`python -m scaler_wizard.integrations.transformerlab`: the command task.yaml's `run` starts."""

from scaler_wizard.integrations.transformerlab.entry import main

raise SystemExit(main())
