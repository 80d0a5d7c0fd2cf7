package remote

// NativeID returns the upstream's own id of an attachment this store has
// handed out (what the upstream's clients know it by), or "" where the
// upstream addresses files by record, field and name and has no id of its
// own. A migration reports it beside the id of the other side, since
// canonical ids of a remote store are private to its id map.
func (s *Store) NativeID(id string) (string, error) {
	r, err := s.ids.lookup(id)
	if err != nil {
		return "", err
	}
	return r.NativeID, nil
}
