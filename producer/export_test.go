package producer

import "time"

// GroupTimeout shortens how long a group of rows may wait for Redis, so
// a test of a hung Redis takes seconds.
func GroupTimeout(d time.Duration) BatchOption { return func(o *batchOpts) { o.timeout = d } }
