package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// bbolt checks a file's structure (its meta pages carry checksums, Check
// walks the page tree) but not the bytes of keys and values: random bytes
// over the values of a leaf page leave a file bbolt accepts, whose reads
// then fail. So Open also checks what the values mean (integrityProblem),
// and the opaque values (state blobs, records) carry a checksum.

// A sealed value ends with its CRC-32C and a marker byte. Values written
// before sealing (state blobs of older files: JSON, which never ends with
// the marker) are read as they are.
const sealMarker = 0xC5

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends v's checksum and the marker.
func seal(v []byte) []byte {
	out := make([]byte, 0, len(v)+5)
	out = append(out, v...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(v, castagnoli))
	return append(out, sealMarker)
}

var errBadSeal = errors.New("checksum mismatch")

// unseal returns the value without its seal. legacy is true for a value
// written before sealing.
func unseal(v []byte) (value []byte, legacy bool, err error) {
	if len(v) == 0 || v[len(v)-1] != sealMarker {
		return v, true, nil
	}
	if len(v) < 5 {
		return nil, false, errBadSeal
	}
	body := v[:len(v)-5]
	if binary.BigEndian.Uint32(v[len(v)-5:]) != crc32.Checksum(body, castagnoli) {
		return nil, false, errBadSeal
	}
	return body, false, nil
}

// integrityProblem checks every value of the store for what it must be:
// alerts decode and match their indexes and counts, terms decode and
// match their keys, cursors decode, state blobs and records pass their
// checksum. It returns "" when all hold.
func integrityProblem(tx *bolt.Tx) string {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return "" // not (yet) an osqdetect store: initSchema judges it
	}
	byTime, byRule, counts := tx.Bucket(bucketByTime), tx.Bucket(bucketByRule), tx.Bucket(bucketCounts)
	alerts := tx.Bucket(bucketAlerts)
	if alerts == nil || byTime == nil || byRule == nil || counts == nil {
		return "a bucket is missing"
	}
	var n int64
	perRule := map[string]int64{}
	err := alerts.ForEach(func(k, v []byte) error {
		var a struct {
			ID     string `json:"id"`
			Time   int64  `json:"time"`
			RuleID string `json:"rule_id"`
		}
		if err := json.Unmarshal(v, &a); err != nil || a.ID != string(k) {
			return fmt.Errorf("alert %q does not decode", truncKey(k))
		}
		if r := byTime.Get(byTimeKey(a.Time, a.ID)); string(r) != a.RuleID {
			return fmt.Errorf("alert %s is missing from the time index", a.ID)
		}
		rk := byRuleKey(a.RuleID, a.Time, a.ID)
		if k2, _ := byRule.Cursor().Seek(rk); !bytes.Equal(k2, rk) {
			return fmt.Errorf("alert %s is missing from the rule index", a.ID)
		}
		n++
		perRule[a.RuleID]++
		return nil
	})
	if err != nil {
		return "alerts: " + err.Error()
	}
	if got := int64(byTime.Stats().KeyN); got != n {
		return fmt.Sprintf("the time index has %d entries for %d alerts", got, n)
	}
	if got := int64(byRule.Stats().KeyN); got != n {
		return fmt.Sprintf("the rule index has %d entries for %d alerts", got, n)
	}
	if got := decodeInt(meta.Get(keyAlertCount)); got != n {
		return fmt.Sprintf("the alert count says %d, %d are stored", got, n)
	}
	err = counts.ForEach(func(k, v []byte) error {
		if c, _ := decodeCount(v); c != perRule[string(k)] {
			return fmt.Errorf("rule %q counts %d alerts, %d are stored", truncKey(k), c, perRule[string(k)])
		}
		delete(perRule, string(k))
		return nil
	})
	if err == nil && len(perRule) > 0 {
		err = errors.New("a rule's alerts are not counted")
	}
	if err != nil {
		return "counts: " + err.Error()
	}
	if b := tx.Bucket(bucketTerms); b != nil {
		err = b.ForEach(func(k, v []byte) error {
			t, ok := decodeTerm(v)
			if !ok {
				return errors.New("an entry does not decode")
			}
			if want, _ := termKV(t); !bytes.Equal(want, k) {
				return fmt.Errorf("the entry of rule %q does not match its key", truncKey([]byte(t.Rule)))
			}
			return nil
		})
		if err != nil {
			return "new-terms history: " + err.Error()
		}
	}
	if b := tx.Bucket(bucketCursors); b != nil {
		err = b.ForEach(func(k, v []byte) error {
			var c Cursor
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("%q does not decode", truncKey(k))
			}
			return nil
		})
		if err != nil {
			return "cursors: " + err.Error()
		}
	}
	if b := tx.Bucket(bucketState); b != nil {
		err = b.ForEach(func(k, v []byte) error {
			body, legacy, err := unseal(v)
			if err != nil {
				return fmt.Errorf("%q: %w", truncKey(k), err)
			}
			if legacy && len(body) > 0 && !json.Valid(body) {
				return fmt.Errorf("%q is damaged", truncKey(k))
			}
			return nil
		})
		if err != nil {
			return "state: " + err.Error()
		}
	}
	if root := tx.Bucket(bucketRecords); root != nil {
		err = root.ForEach(func(ns, v []byte) error {
			b := root.Bucket(ns)
			if b == nil {
				return fmt.Errorf("%q is not a namespace", truncKey(ns))
			}
			return b.ForEach(func(k, v []byte) error {
				if _, legacy, err := unseal(v); err != nil || legacy {
					return fmt.Errorf("a record of %q fails its checksum", truncKey(ns))
				}
				return nil
			})
		})
		if err != nil {
			return "records: " + err.Error()
		}
	}
	return ""
}

func truncKey(k []byte) string {
	if len(k) > 40 {
		return string(k[:40]) + "..."
	}
	return string(k)
}
