package cf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// BenchmarkDownloadLarge is `r2_download save_to` of a 256 MiB object on
// the Cloudflare backend, against the fake S3 server (gofakes3, in another
// process so that its memory is not the client's), side by side with its
// floor: a plain aws-sdk-go-v2 GetObject, with the same client settings,
// streamed to a file with io.Copy and made durable with Sync. Each
// iteration runs both, in alternating order, so that a busy machine weighs
// on both alike; x-floor is the ratio of their total times (<= 1 is at the
// floor). server-cpu-ms/dl and client-cpu-ms/dl are the CPU time of the
// server process and of this one per download (both kinds together): they
// tell which side bounds the throughput.
//
//	go test ./internal/cf/ -run '^$' -bench DownloadLarge -benchtime 4x -count 3
func BenchmarkDownloadLarge(b *testing.B) {
	endpoint, _, serverPID := startFakeS3Process(b)
	s := benchStore(b, endpoint)
	const size = 256 * mib
	f, err := os.Open(sparseFile(b, size))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := s.PutObject(b.Context(), storage.ObjectPut{Bucket: "bench", Key: "large", Body: f, Size: size}); err != nil {
		b.Fatal(err)
	}
	floor := plainS3Client(endpoint)
	dir := b.TempDir()
	roots, err := fsroot.New(dir)
	if err != nil {
		b.Fatal(err)
	}

	runs := []struct {
		name  string
		fetch func(ctx context.Context, path string) (int64, error)
		total time.Duration
	}{
		{name: "floor", fetch: func(ctx context.Context, path string) (int64, error) {
			return plainDownload(ctx, floor, "bench", "large", path)
		}},
		{name: "ours", fetch: func(ctx context.Context, path string) (int64, error) {
			return saveObject(ctx, s, roots, "bench", "large", path)
		}},
	}
	serverCPU, clientCPU := procCPU(serverPID), procCPU(os.Getpid())
	for i := 0; b.Loop(); i++ {
		for j := range runs {
			r := &runs[(i+j)%len(runs)]
			path := filepath.Join(dir, r.name)
			start := time.Now()
			n, err := r.fetch(b.Context(), path)
			r.total += time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			if n != size {
				b.Fatalf("%s: wrote %d bytes, want %d", r.name, n, size)
			}
			if err := os.Remove(path); err != nil {
				b.Fatal(err)
			}
		}
	}
	downloads := float64(len(runs) * b.N)
	b.ReportMetric(float64((procCPU(serverPID)-serverCPU).Milliseconds())/downloads, "server-cpu-ms/dl")
	b.ReportMetric(float64((procCPU(os.Getpid())-clientCPU).Milliseconds())/downloads, "client-cpu-ms/dl")
	floorT, oursT := runs[0].total, runs[1].total
	b.ReportMetric(float64(oursT)/float64(floorT), "x-floor")
	b.ReportMetric(float64(floorT.Milliseconds())/float64(b.N), "floor-ms/op")
	b.ReportMetric(float64(oursT.Milliseconds())/float64(b.N), "ours-ms/op")
	b.ReportMetric(float64(size)*float64(b.N)/oursT.Seconds()/1e6, "ours-MB/s")
}

// procCPU is the CPU time a process has used so far (user and system, from
// /proc/<pid>/stat, in clock ticks taken as 1/100 s); 0 where there is no
// /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest) // from the state, field 3
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// plainS3Client is an S3 client as the SDK makes it, with the settings that
// concern the data path as ours has them: path-style requests, checksums
// only where required (R2's setting; no response checksum is computed), and
// the same HTTP client (benchHTTPClient).
func plainS3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "auto",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("id", testSecret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 benchHTTPClient(),
	})
}

// plainDownload is the floor: GetObject, io.Copy to a file, Sync.
func plainDownload(ctx context.Context, c *s3.Client, bucket, key, path string) (int64, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(f, out.Body)
	if err != nil {
		return n, err
	}
	return n, f.Sync()
}

// saveObject is what r2_download save_to does with an object of this
// backend (tools/files.go's saveTo): GetObject, then io.Copy into an
// atomic file of the allowed directory, committed (fsync, rename, directory
// fsync).
func saveObject(ctx context.Context, s *objectStore, roots fsroot.Roots, bucket, key, path string) (int64, error) {
	obj, err := s.GetObject(ctx, bucket, key, nil)
	if err != nil {
		return 0, err
	}
	defer obj.Body.Close()
	af, err := roots.Create(path, true)
	if err != nil {
		return 0, err
	}
	defer af.Abort()
	n, err := io.Copy(af, ctxReader{ctx, obj.Body})
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", path, err)
	}
	return n, af.Commit()
}

// ctxReader is tools' contextReader: the copy stops when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// paceGets makes f send the bodies of GetObject answers chunk bytes at a
// time, every `every`, over the real connection; with stallAfter > 0 it
// sends that many bytes and then nothing, until the client goes away.
// Headers go at once.
func (f *fakeS3) paceGets(chunk int, every time.Duration, stallAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if opOf(r) != "GetObject" {
			return false
		}
		rec := httptest.NewRecorder()
		f.inner.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		for sent := 0; sent < len(body); {
			if stallAfter > 0 && sent >= stallAfter {
				<-r.Context().Done()
				return true
			}
			n := min(chunk, len(body)-sent)
			if stallAfter > 0 {
				n = min(n, stallAfter-sent)
			}
			if _, err := w.Write(body[sent : sent+n]); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			sent += n
			select {
			case <-r.Context().Done():
				return true
			case <-time.After(every):
			}
		}
		return true
	}
}

// TestS3DownloadStallBound reads an object whose body takes well over the
// stall time to arrive, without ever pausing that long: it is read whole.
// A body that stops arriving fails, after the stall time, as unavailable,
// naming the object (issue 14: S3 GET bodies were bounded only by their
// context and the 2-minute wait for headers).
func TestS3DownloadStallBound(t *testing.T) {
	const stall = 300 * time.Millisecond
	f := newFakeS3(t, false)
	f.createBucket(t, "b")
	s, _ := newTestStore(t, f, func(c *objectConfig) { c.Stall = stall })
	data := testData(64<<10, 41)
	mustPut(t, s, storage.ObjectPut{Bucket: "b", Key: "slow", Body: bytes.NewReader(data), Size: int64(len(data))})

	// 16 chunks, 50 ms apart: 0.8 s in all, over twice the stall time.
	f.paceGets(4<<10, 50*time.Millisecond, 0)
	start := time.Now()
	got, _ := mustGet(t, s, "b", "slow", nil)
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the object", len(got))
	}
	if took := time.Since(start); took < 2*stall {
		t.Fatalf("the object came in %s: it was not paced, and the test proves nothing", took)
	}

	// A quarter of it, then nothing.
	f.paceGets(4<<10, time.Millisecond, 16<<10)
	obj, err := s.GetObject(t.Context(), "b", "slow", nil)
	if err != nil {
		t.Fatalf("GetObject: %v (the answer's headers came at once)", err)
	}
	defer obj.Body.Close()
	n, err := io.Copy(io.Discard, obj.Body)
	wantCode(t, err, storage.CodeUnavailable, "stopped arriving", stall.String(), `object "slow" in bucket "b"`)
	if n != 16<<10 {
		t.Errorf("read %d bytes before the stall, want %d", n, 16<<10)
	}
}

// TestS3StallIsTheRESTTimeout checks that the backend gives S3 object bodies
// the stall time of its REST calls: one setting, one bound.
func TestS3StallIsTheRESTTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{{0, defaultTimeout}, {7 * time.Second, 7 * time.Second}} {
		f := newFakeCloudflare(t)
		b := f.backend(t, func(c *Config) { c.Timeout = tc.timeout })
		captured := captureObjects(b)
		_, _ = b.R2().ListObjects(t.Context(), "bucket", storage.ObjectListOptions{})
		if cfg, calls := captured(); calls != 1 || cfg.Stall != tc.want {
			t.Errorf("Timeout %s: the S3 store was made %d times with a stall time of %s, want %s", tc.timeout, calls, cfg.Stall, tc.want)
		}
	}
}
