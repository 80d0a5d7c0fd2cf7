package translate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// whereEquals reads the filter PHP clients (EspoCRM's among them) send as
// query arguments, where[0][type]=equals&where[0][attribute]=A&where[0][value]=V,
// into attribute -> value. Only equality is understood; any other type of
// condition is refused rather than ignored, since a filter dropped would
// answer more than was asked for.
func whereEquals(c *fiber.Ctx) map[string]string {
	conds, _ := parseWhere(c)
	return conds
}

// parseWhere is whereEquals that says what it could not read.
func parseWhere(c *fiber.Ctx) (map[string]string, error) {
	type cond struct{ typ, attr, value string }
	byIndex := map[int]*cond{}
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		key := string(k)
		rest, ok := strings.CutPrefix(key, "where[")
		if !ok {
			return
		}
		idx, part, ok := strings.Cut(rest, "][")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i > 64 || !strings.HasSuffix(part, "]") {
			bad = fmt.Errorf("query argument %q is not where[N][type|attribute|value]", key)
			return
		}
		cd := byIndex[i]
		if cd == nil {
			cd = &cond{}
			byIndex[i] = cd
		}
		switch strings.TrimSuffix(part, "]") {
		case "type":
			cd.typ = string(v)
		case "attribute":
			cd.attr = string(v)
		case "value":
			cd.value = string(v)
		default:
			bad = fmt.Errorf("query argument %q is not where[N][type|attribute|value]", key)
		}
	})
	if bad != nil {
		return nil, bad
	}
	out := map[string]string{}
	for _, cd := range byIndex {
		if cd.typ != "" && cd.typ != "equals" {
			return nil, fmt.Errorf("where type %q is not supported; only equals is", cd.typ)
		}
		if cd.attr == "" {
			return nil, fmt.Errorf("a where condition has no attribute")
		}
		out[cd.attr] = cd.value
	}
	return out, nil
}
