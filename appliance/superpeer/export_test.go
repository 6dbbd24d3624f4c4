package superpeer

// SafeChunks collects safeChunks.
func SafeChunks(data []byte, max int) [][]byte {
	var out [][]byte
	safeChunks(data, max, func(c []byte) bool { out = append(out, c); return true })
	return out
}
