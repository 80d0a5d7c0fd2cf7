package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// collectionsAnswer is GET /api/store.
type collectionsAnswer struct {
	// CanList is false for a store that cannot list its records (a remote
	// system is reachable record by record only): the page then offers
	// to open one record by collection and id.
	CanList     bool             `json:"can_list"`
	Collections []collectionView `json:"collections"`
	// CanDelete is false for a read-only key.
	CanDelete bool `json:"can_delete"`
}

type collectionView struct {
	Name    string `json:"name"`
	Records int    `json:"records"`
}

func (c *Console) collections(f *fiber.Ctx) error {
	caller := callerOf(f)
	ans := collectionsAnswer{Collections: []collectionView{}, CanDelete: !readOnly(caller)}
	if c.enumerate == nil {
		return f.JSON(ans)
	}
	ans.CanList = true
	refs, err := c.enumerate.Records(f.UserContext())
	if err != nil {
		return storeError(f, err)
	}
	counts := map[string]int{}
	for _, r := range refs {
		if caller.CanRead(r.Collection) {
			counts[r.Collection]++
		}
	}
	for name, n := range counts {
		ans.Collections = append(ans.Collections, collectionView{Name: name, Records: n})
	}
	sort.Slice(ans.Collections, func(i, j int) bool { return ans.Collections[i].Name < ans.Collections[j].Name })
	return f.JSON(ans)
}

// recordsAnswer is GET /api/store/records.
type recordsAnswer struct {
	Collection string `json:"collection"`
	// Query is the search: records whose id, or one of whose files' names,
	// contains it (case-insensitively).
	Query string `json:"query"`
	// Total counts the matching records; Records is the page of them.
	Total   int          `json:"total"`
	Offset  int          `json:"offset"`
	Records []recordView `json:"records"`
}

type recordView struct {
	ID       string                `json:"id"`
	Created  time.Time             `json:"created"`
	Modified time.Time             `json:"modified"`
	Files    []upstream.Attachment `json:"files"`
}

// pageSize is how many records one answer holds at most.
const pageSize = 50

// scanLimit bounds the records one search reads from the store.
const scanLimit = 20000

func (c *Console) records(f *fiber.Ctx) error {
	collection, q := f.Query("collection"), strings.TrimSpace(f.Query("q"))
	if collection == "" {
		return apiError(f, fiber.StatusBadRequest, "collection is required")
	}
	if !callerOf(f).CanRead(collection) {
		return apiError(f, fiber.StatusNotFound, "no such collection")
	}
	offset, _ := strconv.Atoi(f.Query("offset"))
	offset = max(offset, 0)
	ans := recordsAnswer{Collection: collection, Query: q, Offset: offset, Records: []recordView{}}
	if c.lister == nil {
		// A store that cannot list: the search is one record's id.
		if q == "" {
			return apiError(f, fiber.StatusBadRequest, "this store cannot list records: give a record id")
		}
		ref := upstream.RecordRef{Collection: collection, ID: q}
		rec, err := c.o.Store.GetRecord(f.UserContext(), ref)
		if upstream.KindOf(err) == upstream.KindNotFound {
			return f.JSON(ans)
		}
		if err != nil {
			return storeError(f, err)
		}
		files, err := c.o.Store.List(f.UserContext(), ref)
		if err != nil {
			return storeError(f, err)
		}
		ans.Total = 1
		ans.Records = append(ans.Records, recordView{ID: ref.ID, Created: rec.Created, Modified: rec.Modified, Files: nonNil(files)})
		return f.JSON(ans)
	}
	if q == "" {
		entries, total, err := c.lister.ListRecords(f.UserContext(), collection, upstream.RecordQuery{Offset: offset, Limit: pageSize})
		if err != nil {
			return storeError(f, err)
		}
		ans.Total = total
		for _, e := range entries {
			ans.Records = append(ans.Records, viewOfEntry(e))
		}
		return f.JSON(ans)
	}
	entries, _, err := c.lister.ListRecords(f.UserContext(), collection, upstream.RecordQuery{Limit: scanLimit})
	if err != nil {
		return storeError(f, err)
	}
	needle := strings.ToLower(q)
	for _, e := range entries {
		if !matches(e, needle) {
			continue
		}
		if ans.Total >= offset && len(ans.Records) < pageSize {
			ans.Records = append(ans.Records, viewOfEntry(e))
		}
		ans.Total++
	}
	return f.JSON(ans)
}

func matches(e upstream.RecordEntry, needle string) bool {
	if strings.Contains(strings.ToLower(e.Record.Ref.ID), needle) {
		return true
	}
	for _, a := range e.Files {
		if strings.Contains(strings.ToLower(a.Name), needle) {
			return true
		}
	}
	return false
}

func viewOfEntry(e upstream.RecordEntry) recordView {
	return recordView{ID: e.Record.Ref.ID, Created: e.Record.Created, Modified: e.Record.Modified, Files: nonNil(e.Files)}
}

func nonNil(a []upstream.Attachment) []upstream.Attachment {
	if a == nil {
		return []upstream.Attachment{}
	}
	return a
}

// readable stats an attachment the caller may read; one it may not is
// not found, as the dialects answer.
func (c *Console) readable(f *fiber.Ctx) (upstream.Attachment, error) {
	a, err := c.o.Store.Stat(f.UserContext(), f.Params("id"))
	if err == nil && !callerOf(f).CanRead(a.Record.Collection) {
		err = upstream.Errorf(upstream.KindNotFound, "no such attachment")
	}
	return a, err
}

func (c *Console) attachment(f *fiber.Ctx) error {
	a, err := c.readable(f)
	if err != nil {
		return storeError(f, err)
	}
	return f.JSON(a)
}

// downloadLink answers a link that downloads the attachment without the
// key (a browser's navigation sends no Authorization header) for
// DownloadTTL: POST, so that a link is never made by merely loading a
// page.
func (c *Console) downloadLink(f *fiber.Ctx) error {
	a, err := c.readable(f)
	if err != nil {
		return storeError(f, err)
	}
	if !a.HasContent {
		return apiError(f, fiber.StatusConflict, "this attachment has no content yet")
	}
	return f.JSON(fiber.Map{"url": Prefix + "/download/" + c.sign(a.ID)})
}

// sign makes a download token: the expiry and the id, and their MAC.
func (c *Console) sign(id string) string {
	msg := binary.BigEndian.AppendUint64(nil, uint64(c.o.Now().Add(c.o.DownloadTTL).Unix()))
	msg = append(msg, id...)
	return base64.RawURLEncoding.EncodeToString(msg) + "." + base64.RawURLEncoding.EncodeToString(c.mac(msg))
}

func (c *Console) mac(msg []byte) []byte {
	h := hmac.New(sha256.New, c.linkKey)
	h.Write(msg)
	return h.Sum(nil)
}

// verify returns the id a token signs, if it is authentic and not expired.
func (c *Console) verify(token string) (string, bool) {
	m, s, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	// Strict: no two spellings of one token exist.
	msg, err1 := base64.RawURLEncoding.Strict().DecodeString(m)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(s)
	if err1 != nil || err2 != nil || len(msg) < 9 || !hmac.Equal(mac, c.mac(msg)) {
		return "", false
	}
	if int64(binary.BigEndian.Uint64(msg)) < c.o.Now().Unix() {
		return "", false
	}
	return string(msg[8:]), true
}

// download streams an attachment for a token downloadLink made.
func (c *Console) download(f *fiber.Ctx) error {
	id, ok := c.verify(f.Params("token"))
	if !ok {
		return f.Status(fiber.StatusNotFound).SendString("this download link is unknown or has expired")
	}
	a, content, err := c.o.Store.Open(f.UserContext(), id)
	if err != nil {
		if upstream.KindOf(err) == upstream.KindNotFound {
			return f.Status(fiber.StatusNotFound).SendString("no such attachment")
		}
		c.o.Logger.Error("console: download", "err", err)
		return f.Status(fiber.StatusBadGateway).SendString("the store could not be read")
	}
	typ := a.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	f.Set(fiber.HeaderContentType, typ)
	f.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	if strings.ContainsAny(a.Name, "\"\\") || !isASCII(a.Name) {
		f.Set(fiber.HeaderContentDisposition, "attachment; filename*=UTF-8''"+url.PathEscape(a.Name))
	}
	// fasthttp closes the content once it is sent.
	return f.SendStream(content, int(a.Size))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (c *Console) deleteAttachment(f *fiber.Ctx) error {
	a, err := c.readable(f)
	if err != nil {
		return storeError(f, err)
	}
	if !callerOf(f).CanEdit(a.Record.Collection) {
		return apiError(f, fiber.StatusForbidden, "this key may not delete in "+a.Record.Collection)
	}
	if err := c.o.Store.Delete(f.UserContext(), a.ID); err != nil {
		return storeError(f, err)
	}
	c.o.Logger.Info("console: attachment deleted", "id", a.ID, "record", a.Record.Collection+"/"+a.Record.ID,
		"name", a.Name, "key", callerOf(f).Name())
	return f.SendStatus(fiber.StatusNoContent)
}

// storeError answers a store error with the status of its kind.
func storeError(f *fiber.Ctx, err error) error {
	status := fiber.StatusBadGateway
	switch upstream.KindOf(err) {
	case upstream.KindNotFound:
		status = fiber.StatusNotFound
	case upstream.KindInvalid:
		status = fiber.StatusBadRequest
	case upstream.KindForbidden:
		status = fiber.StatusForbidden
	case upstream.KindUnsupported:
		status = fiber.StatusNotImplemented
	case upstream.KindTimeout:
		status = fiber.StatusGatewayTimeout
	case upstream.KindUnavailable:
		status = fiber.StatusServiceUnavailable
	}
	return apiError(f, status, upstream.MessageOf(err))
}
