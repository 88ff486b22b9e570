"""The one place tuner uses what Ray, Optuna, MLflow and Keras do not publish: each
function here stands in for a public API those libraries lack, names it, and says on
which versions it was checked (tests/compat/ exercises each against the installed ones
and names the seam that broke). Nothing outside this package touches a private name of
theirs (tests/compat/test_seams.py greps for it)."""
