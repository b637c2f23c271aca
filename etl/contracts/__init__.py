"""Table manifests (the data contracts) and their loader: columns, keys, cursor, layout."""
