// Package intake is refundq's one path from text to refunds: the JSON
// decoder of POST /v1/refunds and of JSONL lines, the CSV and JSONL
// readers of `refundq import` and POST /v1/batches, the derivation of a
// batch's id from its content, and the passes that enqueue a batch
// (with the all-or-nothing dry run). The API and the CLI both go through
// Check and Plan.Run, so they accept the same files, report problems the
// same way (by physical line, field and reason) and give the same content
// the same batch id.
//
// What a file must say:
//   - A CSV file has a header row naming its columns (order_id,
//     transaction_id, amount, description, request_id, idempotency_key,
//     merchant), in any order and case, separated by ',' or ';'. A JSONL
//     file has one JSON object per line with the same keys, plus
//     callback_url and metadata.
//   - Every row gives its amount: a decimal number in major units, or the
//     word full for a full refund. A blank amount is an error, never a
//     full refund.
//   - Spaces and invisible characters (NBSP, zero-width spaces, a BOM)
//     around values are dropped; line endings, a BOM, quoting and column
//     order do not matter. None of them changes a row's request_id or the
//     batch id.
//
// Bad input is refused early and in bounded memory: binary data and
// devices at the first bytes, a CSV record or a JSONL line over 1 MiB as
// a rejected row, an unclosed quote as a rejected line after which
// reading resumes.
package intake
