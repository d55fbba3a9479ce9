// Package store keeps refund records in Redis: one hash per refund, a bounded
// event list, a short lock, and indexes by order, by batch and by state.
//
// Every key of one refund carries the request_id as a hash tag, so the Lua
// scripts that touch a record and its events stay in one Redis Cluster slot.
// On a single Redis or Sentinel the same scripts also update the indexes, so
// an index never disagrees with its record. Redis Cluster refuses a script
// whose keys span slots, so there the indexes are written right after the
// script and the worker's sweep repairs what a crash in between leaves.
//
// Unsettled records never expire. A record expires its retention after it
// becomes terminal, and its index entries go with it.
package store

import "github.com/refundq/refundq/internal/refund"

// Key prefixes. The scripts build index keys from these prefixes too, so
// they are defined once, here.
const (
	prefix      = "refundq:"
	statePrefix = prefix + "state:"
	orderPrefix = prefix + "idx:order:"
	txnPrefix   = prefix + "idx:txn:"
	batchPrefix = prefix + "idx:batch:"
	metaPrefix  = prefix + "batchmeta:"
	// callbacksKey lists refunds whose merchant callback is pending, by
	// last change, so the sweep can find a delivery whose task was lost.
	callbacksKey = prefix + "callbacks:pending"
	// replicatedKey is the stamp Replicate writes before its WAIT.
	replicatedKey = prefix + "replicated"
)

func recordKey(id string) string { return prefix + "{" + id + "}" }
func eventsKey(id string) string { return prefix + "{" + id + "}:events" }
func lockKey(id string) string   { return prefix + "{" + id + "}:lock" }

// orderKey and batchKey are sorted sets of request_ids scored by when each
// record expires: +inf while it is unsettled. Readers skip entries past
// their score, writers prune them, and the key itself expires with its
// longest-lived member.
func orderKey(merchant, orderID string) string { return orderPrefix + merchant + ":" + orderID }
func txnKey(merchant, txnID string) string     { return txnPrefix + merchant + ":" + txnID }
func batchKey(id string) string                { return batchPrefix + id }
func batchMetaKey(id string) string            { return metaPrefix + id }

// stateKey is a sorted set of request_ids by last change, for the states an
// operator lists or a dashboard counts. Succeeded and canceled are not
// indexed: they are the bulk of all refunds and nobody acts on them.
func stateKey(s refund.State) string { return statePrefix + string(s) }

func indexed(s refund.State) bool { return s != refund.Succeeded && s != refund.Canceled }
