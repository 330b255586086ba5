package chat

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreFile is the conversation database's file name in the data directory.
const StoreFile = "conversations.db"

// ErrStoreBusy: another process holds the conversation database open.
var ErrStoreBusy = errors.New("conversation store is in use by another process")

// Layout: bucket "conversations" holds one nested bucket per conversation
// id, which holds key "meta" (the Conversation without messages, JSON) and
// bucket "messages" (sequence number, big-endian → Message JSON). Appending
// a message writes one key; listing reads only the metas. Every change is
// one bbolt transaction, synced to disk before it returns, so a crash
// leaves either the old or the new state.
var (
	bucketConvs    = []byte("conversations")
	keyMeta        = []byte("meta")
	bucketMessages = []byte("messages")
)

// Store keeps conversations in an embedded bbolt database. It is safe for
// concurrent use; one process at a time may open a database file.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

// OpenStore opens (creating if needed) the conversation database at path,
// usually filepath.Join(dataDir, StoreFile). It waits at most a second for
// another process to release the file, then fails with ErrStoreBusy.
func OpenStore(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open conversation store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open conversation store %s: %w", path, ErrStoreBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("open conversation store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketConvs)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open conversation store %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Create stores a new conversation. It assigns an ID when c.ID is empty,
// sets Created and Updated, and derives a title from the first user
// message when c.Title is empty. c is updated in place.
func (s *Store) Create(c *Conversation) error {
	now := s.now()
	if c.ID == "" {
		id, err := newID(now)
		if err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		c.ID = id
	}
	if c.Created.IsZero() {
		c.Created = now
	}
	c.Updated = now
	fillTitle(c)
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketConvs)
		if root.Bucket([]byte(c.ID)) != nil {
			return fmt.Errorf("conversation %s already exists", c.ID)
		}
		return writeConversation(root, c)
	})
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	return nil
}

// Get loads a conversation with its messages.
func (s *Store) Get(id string) (*Conversation, error) {
	var c *Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = readConversation(tx.Bucket(bucketConvs), id, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get conversation %s: %w", id, err)
	}
	return c, nil
}

// List returns every conversation's summary, most recently updated first.
func (s *Store) List() ([]Summary, error) {
	var out []Summary
	err := s.eachHead(func(b *bolt.Bucket, c *Conversation) {
		n := 0
		if mb := b.Bucket(bucketMessages); mb != nil {
			n = mb.Stats().KeyN
		}
		out = append(out, Summary{ID: c.ID, Title: c.Title, Model: c.Model, Created: c.Created, Updated: c.Updated, Messages: n})
	})
	if err != nil {
		return nil, err
	}
	sortRecentFirst(out, func(s Summary) (time.Time, string) { return s.Updated, s.ID })
	return out, nil
}

// Heads returns every conversation without its messages (its settings:
// title, model, system prompt, sampling, offloading), most recently
// updated first: what a conversation list needs, in one read.
func (s *Store) Heads() ([]*Conversation, error) {
	var out []*Conversation
	err := s.eachHead(func(_ *bolt.Bucket, c *Conversation) { out = append(out, c) })
	if err != nil {
		return nil, err
	}
	sortRecentFirst(out, func(c *Conversation) (time.Time, string) { return c.Updated, c.ID })
	return out, nil
}

// eachHead calls fn with each conversation's bucket and its metadata (no
// messages), in one read transaction.
func (s *Store) eachHead(fn func(b *bolt.Bucket, c *Conversation)) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketConvs)
		return root.ForEachBucket(func(k []byte) error {
			c, err := readConversation(root, string(k), false)
			if err != nil {
				return err
			}
			fn(root.Bucket(k), c)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list conversations: %w", err)
	}
	return nil
}

// sortRecentFirst orders by update time, newest first, then by ID.
func sortRecentFirst[T any](xs []T, key func(T) (time.Time, string)) {
	sort.SliceStable(xs, func(i, j int) bool {
		ti, idi := key(xs[i])
		tj, idj := key(xs[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return idi > idj
	})
}

// Append adds messages to the end of a conversation (one write per
// message, not a rewrite of the whole thread), stamps their Time when
// zero, and bumps Updated.
func (s *Store) Append(id string, msgs ...Message) error {
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketConvs)
		c, err := readConversation(root, id, false)
		if err != nil {
			return err
		}
		b := root.Bucket([]byte(id))
		mb, err := b.CreateBucketIfNotExists(bucketMessages)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Time.IsZero() {
				m.Time = now
			}
			seq, err := mb.NextSequence()
			if err != nil {
				return err
			}
			if err := putJSON(mb, seqKey(seq), m); err != nil {
				return err
			}
			if c.Title == "" && m.Role == RoleUser {
				c.Title = TitleFrom(m.Content)
			}
		}
		c.Updated = now
		return putJSON(b, keyMeta, metaOf(c))
	})
	if err != nil {
		return fmt.Errorf("append to conversation %s: %w", id, err)
	}
	return nil
}

// Update changes a conversation atomically: fn gets the stored
// conversation (messages included) and may change anything but its ID;
// the result replaces the stored one and Updated is bumped. An error from
// fn leaves the store unchanged and is returned.
func (s *Store) Update(id string, fn func(c *Conversation) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketConvs)
		c, err := readConversation(root, id, true)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID = id
		c.Updated = s.now()
		fillTitle(c)
		if err := root.DeleteBucket([]byte(id)); err != nil {
			return err
		}
		return writeConversation(root, c)
	})
	if err != nil {
		return fmt.Errorf("update conversation %s: %w", id, err)
	}
	return nil
}

// Delete removes a conversation.
func (s *Store) Delete(id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketConvs).DeleteBucket([]byte(id))
		if errors.Is(err, bolt.ErrBucketNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete conversation %s: %w", id, err)
	}
	return nil
}

func fillTitle(c *Conversation) {
	if c.Title != "" {
		return
	}
	for _, m := range c.Messages {
		if m.Role == RoleUser {
			c.Title = TitleFrom(m.Content)
			return
		}
	}
}

// metaOf is c without its messages, as stored under "meta".
func metaOf(c *Conversation) *Conversation {
	meta := *c
	meta.Messages = nil
	return &meta
}

func writeConversation(root *bolt.Bucket, c *Conversation) error {
	b, err := root.CreateBucket([]byte(c.ID))
	if err != nil {
		return err
	}
	if err := putJSON(b, keyMeta, metaOf(c)); err != nil {
		return err
	}
	mb, err := b.CreateBucket(bucketMessages)
	if err != nil {
		return err
	}
	for _, m := range c.Messages {
		seq, err := mb.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(mb, seqKey(seq), m); err != nil {
			return err
		}
	}
	return nil
}

func readConversation(root *bolt.Bucket, id string, withMessages bool) (*Conversation, error) {
	b := root.Bucket([]byte(id))
	if b == nil {
		return nil, ErrNotFound
	}
	c := &Conversation{}
	raw := b.Get(keyMeta)
	if raw == nil {
		return nil, fmt.Errorf("conversation %s has no metadata", id)
	}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("conversation %s metadata: %w", id, err)
	}
	c.Messages = []Message{}
	if !withMessages {
		return c, nil
	}
	mb := b.Bucket(bucketMessages)
	if mb == nil {
		return c, nil
	}
	err := mb.ForEach(func(k, v []byte) error {
		var m Message
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("conversation %s message %x: %w", id, k, err)
		}
		c.Messages = append(c.Messages, m)
		return nil
	})
	return c, err
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}
