"""What everything else rests on: argument checks, the configuration, picture checks,
checkpoints and progress bars."""
