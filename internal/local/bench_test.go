package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Every write is durable (fsync of the WAL, and for objects of the blob and
// its directory), so the write figures measure this disk's fsync as much as
// the code.

var (
	kvSizes = []int{100, 64 << 10, 4 << 20} // inline, the largest inline, a blob
	r2Sizes = []int{1 << 20, 64 << 20}
)

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkKVPut(b *testing.B) {
	for _, size := range kvSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			be, _ := newTestBackend(b)
			ns := mkNamespace(b, be, "bench")
			value := bytes.Repeat([]byte("v"), size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				err := be.KV().Put(ctx, ns, storage.KVPut{Key: fmt.Sprintf("key-%d", i%1000), Body: bytes.NewReader(value), Size: int64(size)})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKVGet(b *testing.B) {
	for _, size := range kvSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			be, _ := newTestBackend(b)
			ns := mkNamespace(b, be, "bench")
			value := bytes.Repeat([]byte("v"), size)
			ctx := context.Background()
			// Up to 1000 keys, and no more than 64 MiB of values.
			entries := make([]storage.KVEntry, min(1000, (64<<20)/size))
			for i := range entries {
				entries[i] = storage.KVEntry{Key: fmt.Sprintf("key-%d", i), Value: value}
			}
			if _, err := be.KV().BulkPut(ctx, ns, entries); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				v, err := be.KV().Get(ctx, ns, entries[i%len(entries)].Key)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.Copy(io.Discard, v.Body); n != int64(size) {
					b.Fatalf("read %d bytes", n)
				}
				v.Body.Close()
			}
		})
	}
}

func BenchmarkR2Upload(b *testing.B) {
	for _, size := range r2Sizes {
		b.Run(sizeName(size), func(b *testing.B) {
			be, _ := newTestBackend(b)
			mkBucket(b, be, "bench")
			data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			ctx := context.Background()
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				_, err := be.R2().PutObject(ctx, storage.ObjectPut{Bucket: "bench", Key: fmt.Sprintf("obj-%d", i%4),
					Body: bytes.NewReader(data), Size: int64(size)})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkR2Download(b *testing.B) {
	for _, size := range r2Sizes {
		b.Run(sizeName(size), func(b *testing.B) {
			be, _ := newTestBackend(b)
			mkBucket(b, be, "bench")
			putObject(b, be, "bench", "obj", bytes.Repeat([]byte("0123456789abcdef"), size/16))
			ctx := context.Background()
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(size))
			for b.Loop() {
				obj, err := be.R2().GetObject(ctx, "bench", "obj", nil)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.CopyBuffer(io.Discard, obj.Body, buf); n != int64(size) {
					b.Fatalf("read %d bytes", n)
				}
				obj.Body.Close()
			}
		})
	}
}

// BenchmarkKVPutConcurrent measures small durable puts by one writer and by
// 50 at once, in the same run on the same store, and reports both rates
// and their ratio: group commit lets writes that arrive together share one
// fsync, so 50 writers should put several times as fast as one. Each
// iteration is 50 puts by one writer, then 10 by each of 50 writers.
func BenchmarkKVPutConcurrent(b *testing.B) {
	const writers, solo, each = 50, 50, 10
	be, _ := newTestBackend(b)
	ns := mkNamespace(b, be, "bench")
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 100)
	put := func(w, i int) {
		err := be.KV().Put(ctx, ns, storage.KVPut{Key: fmt.Sprintf("w%d/%d", w, i%100), Body: bytes.NewReader(value), Size: int64(len(value))})
		if err != nil {
			b.Error(err)
		}
	}
	var one, many time.Duration
	var puts1, putsN int
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		for j := range solo {
			put(0, i*solo+j)
		}
		one += time.Since(start)
		puts1 += solo

		start = time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for j := range each {
					put(w, i*each+j)
				}
			})
		}
		wg.Wait()
		many += time.Since(start)
		putsN += writers * each
	}
	r1, rN := float64(puts1)/one.Seconds(), float64(putsN)/many.Seconds()
	b.ReportMetric(r1, "puts/s-1writer")
	b.ReportMetric(rN, "puts/s-50writers")
	b.ReportMetric(rN/r1, "x-1writer")
}
