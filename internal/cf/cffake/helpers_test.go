package cffake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

const acct = cffake.DefaultAccountID

// api is a plain net/http client for one fake, authenticating with a token.
type api struct {
	t     *testing.T
	srv   *cffake.Server
	token string
}

func newAPI(t *testing.T, opts ...cffake.Option) (*api, *cffake.Server) {
	t.Helper()
	srv := cffake.Start(t, opts...)
	return &api{t: t, srv: srv, token: cffake.DefaultToken}, srv
}

// as returns a client that authenticates with another token ("" for none).
func (a *api) as(token string) *api {
	c := *a
	c.token = token
	return &c
}

// response is an answer, with the envelope decoded when the body is JSON.
type response struct {
	status int
	header http.Header
	body   []byte
	env    envelope
}

type envelope struct {
	Success    bool              `json:"success"`
	Errors     []apiMessage      `json:"errors"`
	Messages   []json.RawMessage `json:"messages"`
	Result     json.RawMessage   `json:"result"`
	ResultInfo json.RawMessage   `json:"result_info"`
}

type apiMessage struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []apiMessage `json:"error_chain"`
}

// do sends a request. path is below the API base and used as written: the
// caller escapes what it means to escape, exactly like a client would.
func (a *api) do(method, path string, body io.Reader, header ...string) *response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.BaseURL()+path, body)
	if err != nil {
		a.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	r := &response{status: res.StatusCode, header: res.Header, body: data}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &r.env); err != nil {
			a.t.Fatalf("%s %s: body is not an envelope: %v\n%s", method, path, err, data)
		}
	}
	return r
}

// json sends v as a JSON body.
func (a *api) json(method, path string, v any, header ...string) *response {
	a.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(method, path, bytes.NewReader(data), append([]string{"Content-Type", "application/json"}, header...)...)
}

func (a *api) get(path string, header ...string) *response {
	a.t.Helper()
	return a.do(http.MethodGet, path, nil, header...)
}

// ok fails the test unless the answer is a 200 success, and decodes the
// result into v (when v is not nil).
func (r *response) ok(t *testing.T, v any) *response {
	t.Helper()
	if r.status != http.StatusOK || !r.env.Success {
		t.Fatalf("want 200 success, got %d: %s", r.status, r.body)
	}
	if len(r.env.Errors) != 0 {
		t.Fatalf("success with errors: %s", r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.env.Result, v); err != nil {
			t.Fatalf("decoding result: %v\n%s", err, r.body)
		}
	}
	return r
}

// fails fails the test unless the answer is a failure envelope with this
// status and first error code, shaped as the spec's failure schemas say.
func (r *response) fails(t *testing.T, status, code int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("want status %d, got %d: %s", status, r.status, r.body)
	}
	if r.env.Success || len(r.env.Errors) == 0 {
		t.Fatalf("want a failure envelope, got %s", r.body)
	}
	if got := r.env.Errors[0].Code; got != code {
		t.Fatalf("want error code %d, got %d: %s", code, got, r.body)
	}
	if string(r.env.Result) != "null" || r.env.Messages == nil {
		t.Fatalf("failure envelope must have result null and messages []: %s", r.body)
	}
	return r
}

// info decodes result_info.
func (r *response) info(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.env.ResultInfo, v); err != nil {
		t.Fatalf("decoding result_info: %v\n%s", err, r.body)
	}
}

// --- KV helpers -----------------------------------------------------------------

const kvBase = "/accounts/" + acct + "/storage/kv/namespaces"

type namespace struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

func (a *api) createNamespace(title string) string {
	a.t.Helper()
	var ns namespace
	a.json(http.MethodPost, kvBase, map[string]string{"title": title}).ok(a.t, &ns)
	return ns.ID
}

// put writes a raw value; escapedKey is put into the path as given.
func (a *api) put(ns, escapedKey, value string, query ...string) *response {
	a.t.Helper()
	path := kvBase + "/" + ns + "/values/" + escapedKey
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	return a.do(http.MethodPut, path, strings.NewReader(value), "Content-Type", "application/octet-stream")
}

func (a *api) value(ns, escapedKey string) *response {
	a.t.Helper()
	return a.get(kvBase + "/" + ns + "/values/" + escapedKey)
}

// multipartBody builds the multipart/form-data body cloudflare-go sends.
func multipartBody(t *testing.T, value []byte, metadata string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if value != nil {
		fw, err := w.CreateFormFile("value", "blob")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(value)
	}
	if metadata != "" {
		if err := w.WriteField("metadata", metadata); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, w.FormDataContentType()
}

type keyInfo struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration"`
	Metadata   json.RawMessage `json:"metadata"`
}

type cursorInfo struct {
	Count  int    `json:"count"`
	Cursor string `json:"cursor"`
}

func (a *api) keys(ns, query string) ([]keyInfo, cursorInfo) {
	a.t.Helper()
	var keys []keyInfo
	var info cursorInfo
	r := a.get(kvBase+"/"+ns+"/keys?"+query).ok(a.t, &keys)
	r.info(a.t, &info)
	return keys, info
}

func names(keys []keyInfo) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

type pageInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
}

// --- R2 helpers -------------------------------------------------------------------

const r2Base = "/accounts/" + acct + "/r2/buckets"

type bucket struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date"`
	Location     string `json:"location"`
	StorageClass string `json:"storage_class"`
	Jurisdiction string `json:"jurisdiction"`
}

func (a *api) createBucket(name string, header ...string) bucket {
	a.t.Helper()
	var b bucket
	a.json(http.MethodPost, r2Base, map[string]string{"name": name}, header...).ok(a.t, &b)
	return b
}

// --- D1 helpers -------------------------------------------------------------------

const d1Base = "/accounts/" + acct + "/d1/database"

type d1Database struct {
	UUID      string  `json:"uuid"`
	Name      string  `json:"name"`
	CreatedAt string  `json:"created_at"`
	Version   string  `json:"version"`
	FileSize  float64 `json:"file_size"`
	NumTables float64 `json:"num_tables"`
}

func (a *api) createDatabase(name string) string {
	a.t.Helper()
	var db d1Database
	a.json(http.MethodPost, d1Base, map[string]string{"name": name}).ok(a.t, &db)
	return db.UUID
}

// query posts sql and params to …/query.
func (a *api) query(db, sql string, params ...any) *response {
	a.t.Helper()
	return a.json(http.MethodPost, d1Base+"/"+db+"/query", map[string]any{"sql": sql, "params": params})
}

// raw posts sql and params to …/raw.
func (a *api) raw(db, sql string, params ...any) *response {
	a.t.Helper()
	return a.json(http.MethodPost, d1Base+"/"+db+"/raw", map[string]any{"sql": sql, "params": params})
}

type d1Meta struct {
	ChangedDB   bool    `json:"changed_db"`
	Changes     float64 `json:"changes"`
	Duration    float64 `json:"duration"`
	LastRowID   float64 `json:"last_row_id"`
	RowsRead    float64 `json:"rows_read"`
	RowsWritten float64 `json:"rows_written"`
	SizeAfter   float64 `json:"size_after"`
}

type d1QueryResult struct {
	Results []map[string]any `json:"results"`
	Success bool             `json:"success"`
	Meta    d1Meta           `json:"meta"`
}

type d1RawResult struct {
	Results struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	} `json:"results"`
	Success bool   `json:"success"`
	Meta    d1Meta `json:"meta"`
}
