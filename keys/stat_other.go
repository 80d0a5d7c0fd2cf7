//go:build !linux

package keys

import "os"

// statStamp stats path into a stamp.
func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stampOf(fi), nil
}
