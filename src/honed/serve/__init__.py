"""``honed serve``: any honed model handle over HTTP, with dynamic batching."""
