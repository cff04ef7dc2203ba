"""What a command tests: one kernel tree, built for one arch, booted with one
accelerator; what that tree and arch provide; where their files go."""
