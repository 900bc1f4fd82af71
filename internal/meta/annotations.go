package meta

import "encoding/json"

// EncodeAnnotations is how stores keep a manifest's annotations in one text
// column: JSON, or "" when there are none.
func EncodeAnnotations(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "", nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// DecodeAnnotations reverses EncodeAnnotations.
func DecodeAnnotations(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var a map[string]string
	err := json.Unmarshal([]byte(s), &a)
	return a, err
}
