// Command crosscheck checks what lead_audit hands out with an implementation
// lead_audit did not write: Go's golang.org/x/mod/sumdb/tlog (RFC 6962/9162
// trees, proofs and tiles) and sumdb/note (signed notes), as Debian packages
// them. It also runs a witness (C2SP tlog-witness, cosignature/v1) for the
// tests, written from the specification on those packages.
//
//	crosscheck vectors merkle.json
//	crosscheck receipt FILE LOG_VKEY
//	crosscheck consistency OLD_NOTE NEW_NOTE PROOF LOG_VKEY
//	crosscheck tiles DIR LOG_VKEY
//	crosscheck witness ADDR STATE_FILE WITNESS_KEY_FILE LOG_VKEY_FILE ORIGIN
//	crosscheck keygen NAME FILE   (a note key for the benchmarks: FILE, and the verifier key on stdout)
//
// Exit status: 0 checked, 1 a check failed (printed), 2 bad usage.
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func read(path string) []byte {
	b, err := os.ReadFile(path)
	must(err, path)
	return b
}

// hashes is an in-memory tlog.HashReader over stored hashes.
type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(h)) {
			return nil, errors.New("index beyond the stored hashes")
		}
		out[i] = h[x]
	}
	return out, nil
}

func store(entries [][]byte) hashes {
	var h hashes
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, h)
		must(err, "StoredHashes")
		h = append(h, hs...)
	}
	return h
}

func unhex(s string) tlog.Hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		fail("not a hex hash: %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func vectors(path string) {
	var v struct {
		Rfc6962 struct {
			Leaves []string `json:"leaves"`
			Roots  []string `json:"roots"`
		} `json:"rfc6962"`
		Tree struct {
			Entries   []string          `json:"entries"`
			Roots     map[string]string `json:"roots"`
			Inclusion []struct {
				Index int64    `json:"index"`
				Size  int64    `json:"size"`
				Path  []string `json:"path"`
			} `json:"inclusion"`
			Consistency []struct {
				Old   int64    `json:"old"`
				New   int64    `json:"new"`
				Proof []string `json:"proof"`
			} `json:"consistency"`
		} `json:"tree"`
		Note struct {
			PrivateKey  string `json:"private_key"`
			VerifierKey string `json:"verifier_key"`
			Checkpoint  string `json:"checkpoint"`
			Signed      string `json:"signed"`
		} `json:"note"`
	}
	must(json.Unmarshal(read(path), &v), path)
	var rfc [][]byte
	for _, l := range v.Rfc6962.Leaves {
		b, _ := hex.DecodeString(l)
		rfc = append(rfc, b)
	}
	h := store(rfc)
	for n := int64(1); n <= int64(len(rfc)); n++ {
		root, err := tlog.TreeHash(n, h)
		must(err, "TreeHash")
		if root != unhex(v.Rfc6962.Roots[n]) {
			fail("RFC 6962 root of size %d", n)
		}
	}
	var entries [][]byte
	for _, e := range v.Tree.Entries {
		b, _ := hex.DecodeString(e)
		entries = append(entries, b)
	}
	h = store(entries)
	roots := map[int64]tlog.Hash{}
	for n, r := range v.Tree.Roots {
		size, _ := strconv.ParseInt(n, 10, 64)
		root, err := tlog.TreeHash(size, h)
		must(err, "TreeHash")
		if root != unhex(r) {
			fail("root of size %d: Go says %s", size, root)
		}
		roots[size] = root
	}
	for _, c := range v.Tree.Inclusion {
		var p tlog.RecordProof
		for _, x := range c.Path {
			p = append(p, unhex(x))
		}
		mine, err := tlog.ProveRecord(c.Size, c.Index, h)
		must(err, "ProveRecord")
		if fmt.Sprint(mine) != fmt.Sprint(p) {
			fail("inclusion path of %d in %d differs from Go's", c.Index, c.Size)
		}
		must(tlog.CheckRecord(p, c.Size, roots[c.Size], c.Index, tlog.RecordHash(entries[c.Index])), "CheckRecord")
	}
	for _, c := range v.Tree.Consistency {
		var p tlog.TreeProof
		for _, x := range c.Proof {
			p = append(p, unhex(x))
		}
		mine, err := tlog.ProveTree(c.New, c.Old, h)
		must(err, "ProveTree")
		if fmt.Sprint(mine) != fmt.Sprint(p) {
			fail("consistency proof %d -> %d differs from Go's", c.Old, c.New)
		}
		must(tlog.CheckTree(p, c.New, roots[c.New], c.Old, roots[c.Old]), "CheckTree")
	}
	signer, err := note.NewSigner(v.Note.PrivateKey)
	must(err, "note.NewSigner")
	signed, err := note.Sign(&note.Note{Text: v.Note.Checkpoint}, signer)
	must(err, "note.Sign")
	if string(signed) != v.Note.Signed {
		fail("the signed note differs from Go's:\n%s\n%s", signed, v.Note.Signed)
	}
	openNote([]byte(v.Note.Signed), v.Note.VerifierKey)
	fmt.Printf("ok: %d roots, %d inclusion paths, %d consistency proofs and the signed note agree with Go's tlog and note\n",
		len(v.Tree.Roots), len(v.Tree.Inclusion), len(v.Tree.Consistency))
}

// openNote verifies a signed note with the log's key; other signatures
// (witnesses') are left unverified, as note.Open does.
func openNote(msg []byte, vkey string) *note.Note {
	verifier, err := note.NewVerifier(strings.TrimSpace(vkey))
	must(err, "note.NewVerifier")
	n, err := note.Open(msg, note.VerifierList(verifier))
	must(err, "note.Open")
	return n
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func parseCheckpoint(text string) checkpoint {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 {
		fail("not a checkpoint: %q", text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	must(err, "checkpoint size")
	root, err := tlog.ParseHash(lines[2])
	must(err, "checkpoint root")
	return checkpoint{lines[0], size, root}
}

func receipt(path, vkey string) {
	text := string(read(path))
	head, rest, ok := strings.Cut(text, "\n\n")
	if !ok {
		fail("not a tlog-proof")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
		fail("not a lead_audit tlog-proof: %q", head)
	}
	extra, err := base64.StdEncoding.DecodeString(lines[1][6:])
	must(err, "extra")
	index, err := strconv.ParseInt(lines[2][6:], 10, 64)
	must(err, "index")
	var p tlog.RecordProof
	for _, l := range lines[3:] {
		h, err := tlog.ParseHash(l)
		must(err, "path")
		p = append(p, h)
	}
	n := openNote([]byte(rest), vkey)
	c := parseCheckpoint(n.Text)
	checksum := sha256.Sum256(extra)
	must(tlog.CheckRecord(p, c.size, c.root, index, tlog.RecordHash(checksum[:])), "CheckRecord")
	fmt.Printf("ok: row %d of %s is in its tree of %d (Go's tlog.CheckRecord, note.Open)\n", index, c.origin, c.size)
}

func consistency(oldPath, newPath, proofPath, vkey string) {
	a := parseCheckpoint(openNote(read(oldPath), vkey).Text)
	b := parseCheckpoint(openNote(read(newPath), vkey).Text)
	var p tlog.TreeProof
	for _, l := range strings.Fields(string(read(proofPath))) {
		h, err := tlog.ParseHash(l)
		must(err, "proof")
		p = append(p, h)
	}
	if a.size == b.size {
		if len(p) != 0 || a.root != b.root {
			fail("equal sizes need an empty proof and equal roots")
		}
	} else {
		must(tlog.CheckTree(p, b.size, b.root, a.size, a.root), "CheckTree")
	}
	fmt.Printf("ok: the tree of %d extends the tree of %d (Go's tlog.CheckTree)\n", b.size, a.size)
}

// tileFiles reads C2SP tlog-tiles files (tile/<L>/<N>[.p/<W>]); Go's sumdb
// names them with the height too (tile/8/<L>/...), which C2SP fixes at 8.
type tileFiles struct{ dir string }

func (t tileFiles) Height() int { return 8 }

func (t tileFiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		b, err := os.ReadFile(filepath.Join(t.dir, path))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (t tileFiles) SaveTiles([]tlog.Tile, [][]byte) {}

func tiles(dir, vkey string) {
	c := parseCheckpoint(openNote(read(filepath.Join(dir, "checkpoint")), vkey).Text)
	reader := tlog.TileHashReader(tlog.Tree{N: c.size, Hash: c.root}, tileFiles{dir})
	root, err := tlog.TreeHash(c.size, reader)
	must(err, "TreeHash from the tiles")
	if root != c.root {
		fail("the tiles' tree hash is not the checkpoint's root")
	}
	// Every entry bundle hashes to its level-0 tile, and a sample of rows
	// prove their inclusion from the tiles alone.
	checked := 0
	for start := int64(0); start < c.size; start += 256 {
		w := c.size - start
		if w > 256 {
			w = 256
		}
		tile := tlog.Tile{H: 8, L: -1, N: start / 256, W: int(w)}
		path := strings.Replace(tile.Path(), "tile/8/data/", "tile/entries/", 1)
		bundle := read(filepath.Join(dir, path))
		var leaves []byte
		for len(bundle) > 0 {
			n := int(binary.BigEndian.Uint16(bundle))
			h := tlog.RecordHash(bundle[2 : 2+n])
			leaves = append(leaves, h[:]...)
			bundle = bundle[2+n:]
		}
		got, err := tileFiles{dir}.ReadTiles([]tlog.Tile{{H: 8, L: 0, N: start / 256, W: int(w)}})
		must(err, "level-0 tile")
		if !bytes.Equal(got[0], leaves) {
			fail("entry bundle %d does not hash to its tile", start/256)
		}
		for _, i := range []int64{start, start + w - 1} {
			p, err := tlog.ProveRecord(c.size, i, reader)
			must(err, "ProveRecord from the tiles")
			var leaf tlog.Hash
			copy(leaf[:], leaves[(i-start)*32:])
			must(tlog.CheckRecord(p, c.size, c.root, i, leaf), "CheckRecord")
			checked++
		}
	}
	fmt.Printf("ok: the tiles of %s hold the tree of %d; %d proofs made from the tiles alone check\n", c.origin, c.size, checked)
}

// ---------------------------------------------------------------------------
// A witness (C2SP tlog-witness add-checkpoint, C2SP tlog-cosignature v1).
// ---------------------------------------------------------------------------

type witness struct {
	mu       sync.Mutex
	state    string // file: "<size> <base64 root>\n"
	name     string
	key      ed25519.PrivateKey
	keyID    uint32
	log      note.Verifier
	origin   string
	lastSize int64
	lastRoot tlog.Hash
}

func (w *witness) addCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(rw, "bad request", http.StatusBadRequest)
		return
	}
	br := bufio.NewReader(bytes.NewReader(body))
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "old ") {
		http.Error(rw, "no old size line", http.StatusBadRequest)
		return
	}
	old, err := strconv.ParseInt(strings.TrimSuffix(line[4:], "\n"), 10, 64)
	if err != nil || old < 0 {
		http.Error(rw, "bad old size", http.StatusBadRequest)
		return
	}
	var proof tlog.TreeProof
	for {
		line, err = br.ReadString('\n')
		if err != nil {
			http.Error(rw, "no checkpoint", http.StatusBadRequest)
			return
		}
		if line == "\n" {
			break
		}
		h, err := tlog.ParseHash(strings.TrimSuffix(line, "\n"))
		if err != nil || len(proof) >= 63 {
			http.Error(rw, "bad proof line", http.StatusBadRequest)
			return
		}
		proof = append(proof, h)
	}
	rest, _ := io.ReadAll(br)
	n, err := note.Open(rest, note.VerifierList(w.log))
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			http.Error(rw, "no signature of a key trusted for this log", http.StatusForbidden)
			return
		}
		http.Error(rw, "bad note", http.StatusBadRequest)
		return
	}
	c := parseCheckpointLax(n.Text)
	if c == nil || c.origin != w.origin {
		http.Error(rw, "unknown log", http.StatusNotFound)
		return
	}
	if old > c.size {
		http.Error(rw, "old size beyond the checkpoint", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old != w.lastSize {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", w.lastSize)
		return
	}
	if old == c.size {
		if c.root != w.lastRoot || len(proof) != 0 {
			http.Error(rw, "another root at the same size", http.StatusConflict)
			return
		}
	} else if old > 0 {
		if err := tlog.CheckTree(proof, c.size, c.root, old, w.lastRoot); err != nil {
			http.Error(rw, "the consistency proof does not verify", http.StatusUnprocessableEntity)
			return
		}
	} else if len(proof) != 0 {
		http.Error(rw, "a proof from size 0 must be empty", http.StatusUnprocessableEntity)
		return
	}
	if err := os.WriteFile(w.state, []byte(fmt.Sprintf("%d %s\n", c.size, c.root)), 0o600); err != nil {
		http.Error(rw, "cannot persist", http.StatusInternalServerError)
		return
	}
	w.lastSize, w.lastRoot = c.size, c.root
	ts := uint64(time.Now().Unix())
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, n.Text)
	sig := ed25519.Sign(w.key, []byte(msg))
	blob := make([]byte, 4+8+64)
	binary.BigEndian.PutUint32(blob, w.keyID)
	binary.BigEndian.PutUint64(blob[4:], ts)
	copy(blob[12:], sig)
	fmt.Fprintf(rw, "— %s %s\n", w.name, base64.StdEncoding.EncodeToString(blob))
}

func parseCheckpointLax(text string) *checkpoint {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 {
		return nil
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return nil
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return nil
	}
	return &checkpoint{lines[0], size, root}
}

func runWitness(addr, state, keyFile, logKey, origin string) {
	// The witness's key, in Go's note private key form (an Ed25519 seed).
	parts := strings.SplitN(strings.TrimSpace(string(read(keyFile))), "+", 5)
	if len(parts) != 5 {
		fail("not a private key: %s", keyFile)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		fail("not an Ed25519 private key: %s", keyFile)
	}
	key := ed25519.NewKeyFromSeed(raw[1:])
	pub := key.Public().(ed25519.PublicKey)
	idHash := sha256.Sum256(append(append([]byte(parts[2]+"\n"), 0x04), pub...))
	verifier, err := note.NewVerifier(strings.TrimSpace(logKey))
	must(err, "the log's verifier key")
	w := &witness{state: state, name: parts[2], key: key, keyID: binary.BigEndian.Uint32(idHash[:4]),
		log: verifier, origin: origin}
	if b, err := os.ReadFile(state); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			w.lastSize, _ = strconv.ParseInt(f[0], 10, 64)
			w.lastRoot, _ = tlog.ParseHash(f[1])
		}
	}
	http.HandleFunc("/add-checkpoint", w.addCheckpoint)
	fmt.Printf("witness %s listening on %s\n", w.name, addr)
	must(http.ListenAndServe(addr, nil), "listen")
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 2 && args[0] == "vectors":
		vectors(args[1])
	case len(args) == 3 && args[0] == "receipt":
		receipt(args[1], string(read(args[2])))
	case len(args) == 5 && args[0] == "consistency":
		consistency(args[1], args[2], args[3], string(read(args[4])))
	case len(args) == 3 && args[0] == "tiles":
		tiles(args[1], string(read(args[2])))
	case len(args) == 3 && args[0] == "keygen":
		skey, vkey, err := note.GenerateKey(rand.Reader, args[1])
		must(err, "note.GenerateKey")
		must(os.WriteFile(args[2], []byte(skey+"\n"), 0o600), args[2])
		fmt.Println(vkey)
	case len(args) == 6 && args[0] == "witness":
		runWitness(args[1], args[2], args[3], string(read(args[4])), args[5])
	default:
		fmt.Fprintln(os.Stderr, "usage: crosscheck vectors|receipt|consistency|tiles|witness ...")
		os.Exit(2)
	}
}
