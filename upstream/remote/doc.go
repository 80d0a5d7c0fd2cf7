// Package remote is a Store that is another attachment system, spoken to in
// one of the dialects of routes.yaml. Each canonical operation is rendered
// into the upstream dialect's request by translate.Speaker (the same
// description that serves that dialect to clients) and sent over a pooled
// fasthttp client (transport.go: timeouts, retries of reads, a circuit
// breaker). No dialect is named here: what a dialect can do is read from
// its routes.
//
// Ids (ids.go): the gateway mints a canonical id for every upstream object
// it shows a client and keeps the object's upstream address beside it, with
// what the upstream's dialect cannot carry (digests, the client's key as
// owner, tags, and the field where the dialect has none). A client cannot
// reach an upstream object through an id the gateway never handed out.
//
// Operations a dialect has no call for are composed from calls it has:
//
//   - List, from the record call where there is no list call, with the stat
//     call per file where the record names files only by id (EspoCRM).
//   - Stat, from a listing; where there is a stat call, from it and the
//     record (for the file's place in its field).
//   - Open, through a presigned link where there is no download call
//     (TransactionLink), followed only to the upstream itself.
//   - Delete, by leaving the file out of its field in a record update where
//     there is no delete call (EspoCRM).
//   - Create with ReplaceSameName, by creating and then deleting the older
//     files of the name; without it, refused where the upload replaces by
//     name (Nimblex cannot keep two files of one name).
//   - Late metadata (NewAttachment.Finish) that the request had already
//     told the upstream otherwise: the file is made again from the
//     upstream's copy.
//
// What cannot be composed is refused with upstream.KindUnsupported, naming
// what the upstream dialect lacks: a placeholder through a dialect whose
// upload is its bytes, a file linked to no record where the record is in
// the request path, a record update where there is none, or one that takes
// another record's file.
package remote
