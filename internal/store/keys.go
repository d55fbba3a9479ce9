// Package store keeps refund records in Redis: one hash per refund, a bounded
// event list, a short lock, and indexes by order and by state.
//
// Every key of one refund carries the request_id as a hash tag, so the Lua
// scripts that touch a record and its events stay in one Redis Cluster slot.
// Indexes live in their own slots and are written next to, not inside, the
// scripts.
package store

import "github.com/refundq/refundq/internal/refund"

const prefix = "refundq:"

func recordKey(id string) string { return prefix + "{" + id + "}" }
func eventsKey(id string) string { return prefix + "{" + id + "}:events" }
func lockKey(id string) string   { return prefix + "{" + id + "}:lock" }

func orderKey(merchant, orderID string) string { return prefix + "order:" + merchant + ":" + orderID }

// stateKey is a sorted set of request_ids by last update, for the states an
// operator lists or a dashboard counts. Succeeded and canceled are not
// indexed: they are the bulk of all refunds and nobody acts on them.
func stateKey(s refund.State) string { return prefix + "state:" + string(s) }

func indexed(s refund.State) bool { return s != refund.Succeeded && s != refund.Canceled }

func batchKey(id string) string { return prefix + "batch:" + id }
