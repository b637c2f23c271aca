"""The source side: the replica endpoint, its guard, the window and the parallel JDBC read."""
