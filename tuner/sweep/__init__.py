"""Running a sweep on Ray Tune: the driver, the bridge between Ray's trial ids and the
study's trial numbers, the Ray adapters, the code run in a worker, and fault points."""
