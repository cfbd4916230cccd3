package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

type r2Tools struct{ Deps }

type listBucketsIn struct {
	Prefix string `json:"prefix,omitempty" jsonschema:"only names starting with this"`
	Cursor string `json:"cursor,omitempty" jsonschema:"from the previous page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"per page" schema:"minimum=1,maximum=1000,default=100"`
}

type bucketOut struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date" jsonschema:"RFC 3339"`
	Location     string `json:"location,omitempty" jsonschema:"where the bucket's data lives (apac, eeur, enam, weur, wnam, oc)"`
	StorageClass string `json:"storage_class,omitempty" jsonschema:"default storage class for new objects"`
	Jurisdiction string `json:"jurisdiction,omitempty" jsonschema:"default, eu or fedramp"`
}

func toBucketOut(b storage.Bucket) bucketOut {
	return bucketOut{Name: b.Name, CreationDate: b.CreationDate.UTC().Format(time.RFC3339), Location: b.Location,
		StorageClass: b.StorageClass, Jurisdiction: b.Jurisdiction}
}

type listBucketsOut struct {
	Buckets []bucketOut `json:"buckets"`
	Cursor  string      `json:"cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

func (r r2Tools) listBuckets(ctx context.Context, in listBucketsIn) (listBucketsOut, error) {
	page, err := r.Store.R2().ListBuckets(ctx, storage.ListOptions(in))
	if err != nil {
		return listBucketsOut{}, err
	}
	out := listBucketsOut{Buckets: make([]bucketOut, 0, len(page.Buckets)), Cursor: page.Cursor}
	for _, b := range page.Buckets {
		out.Buckets = append(out.Buckets, toBucketOut(b))
	}
	return out, nil
}

type createBucketIn struct {
	Name         string `json:"name" jsonschema:"3..63 of a-z, 0-9 and -, starting and ending with a letter or digit"`
	LocationHint string `json:"location_hint,omitempty" jsonschema:"where to place the data" schema:"enum=apac|eeur|enam|weur|wnam|oc"`
	StorageClass string `json:"storage_class,omitempty" jsonschema:"default for new objects" schema:"enum=Standard|InfrequentAccess"`
	Jurisdiction string `json:"jurisdiction,omitempty" jsonschema:"data residency; default: this server's" schema:"enum=default|eu|fedramp"`
}

type createBucketOut struct {
	bucketOut
	WranglerTOML string `json:"wrangler_toml" jsonschema:"the [[r2_buckets]] block to paste into wrangler.toml"`
}

func (r r2Tools) createBucket(ctx context.Context, in createBucketIn) (createBucketOut, error) {
	b, err := r.Store.R2().CreateBucket(ctx, storage.BucketSpec(in))
	if err != nil {
		return createBucketOut{}, err
	}
	toml := storage.ConfigNote(r.Store.Name(), storage.CreateR2Command(b.Name)) + storage.R2BindingTOML(storage.BindingName(b.Name, "BUCKET"), b)
	return createBucketOut{bucketOut: toBucketOut(b), WranglerTOML: toml}, nil
}

type deleteBucketIn struct {
	Bucket  string `json:"bucket" jsonschema:"bucket name"`
	Confirm string `json:"confirm,omitempty" jsonschema:"without elicitation: must equal the bucket name"`
}

type deleteBucketOut struct {
	Deleted bool   `json:"deleted"`
	Name    string `json:"name"`
}

func (r r2Tools) deleteBucket(ctx context.Context, in deleteBucketIn) (deleteBucketOut, error) {
	// A bucket that holds objects, or that this backend cannot delete,
	// is refused before the user is asked (the listing also refuses a
	// bucket outside --allow-buckets).
	if err := r.Store.CanDelete(ctx, storage.AreaR2, in.Bucket); err != nil {
		return deleteBucketOut{}, err
	}
	page, err := r.Store.R2().ListObjects(ctx, in.Bucket, storage.ObjectListOptions{Limit: 1})
	if err != nil {
		return deleteBucketOut{}, err
	}
	if len(page.Objects) > 0 || len(page.Prefixes) > 0 {
		return deleteBucketOut{}, storage.Errorf(storage.CodeConflict,
			"bucket %q still holds objects; delete them first (r2_list, then r2_delete); nothing was deleted", in.Bucket)
	}
	d := Deletion{Tool: "delete_r2_bucket", What: "R2 bucket", Name: in.Bucket, NameIs: "name", Detail: "It is empty."}
	if err := confirmed(ctx, r.Confirm, d, &in.Confirm); err != nil {
		return deleteBucketOut{}, err
	}
	if err := r.Store.R2().DeleteBucket(ctx, in.Bucket); err != nil {
		return deleteBucketOut{}, err
	}
	return deleteBucketOut{Deleted: true, Name: in.Bucket}, nil
}

type r2ListIn struct {
	Bucket    string  `json:"bucket" jsonschema:"bucket name"`
	Prefix    string  `json:"prefix,omitempty" jsonschema:"only keys starting with this, e.g. photos/"`
	Delimiter *string `json:"delimiter,omitempty" jsonschema:"folder separator, default /; \"\" lists flat"`
	Cursor    string  `json:"cursor,omitempty" jsonschema:"from the previous page"`
	Limit     int     `json:"limit,omitempty" jsonschema:"entries per page" schema:"minimum=1,maximum=1000,default=100"`
}

type objectOut struct {
	Key         string `json:"key"`
	Size        int64  `json:"size" jsonschema:"bytes"`
	ETag        string `json:"etag"`
	Uploaded    string `json:"uploaded" jsonschema:"RFC 3339"`
	ContentType string `json:"content_type,omitempty"`
}

type r2ListOut struct {
	Objects  []objectOut `json:"objects" jsonschema:"objects in byte order of their keys"`
	Prefixes []string    `json:"prefixes" jsonschema:"folders: common prefixes up to the delimiter; list one by passing it as prefix"`
	Cursor   string      `json:"cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

func (r r2Tools) list(ctx context.Context, in r2ListIn) (r2ListOut, error) {
	delim := "/"
	if in.Delimiter != nil {
		delim = *in.Delimiter
	}
	page, err := r.Store.R2().ListObjects(ctx, in.Bucket, storage.ObjectListOptions{Prefix: in.Prefix, Delimiter: delim, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return r2ListOut{}, err
	}
	out := r2ListOut{Objects: make([]objectOut, 0, len(page.Objects)), Prefixes: nonNil(page.Prefixes), Cursor: page.Cursor}
	for _, o := range page.Objects {
		out.Objects = append(out.Objects, objectOut{Key: o.Key, Size: o.Size, ETag: o.ETag,
			Uploaded: o.Uploaded.UTC().Format(time.RFC3339), ContentType: o.HTTP.ContentType})
	}
	return out, nil
}

type uploadIn struct {
	Bucket             string            `json:"bucket" jsonschema:"bucket name"`
	Key                string            `json:"key" jsonschema:"up to 1024 bytes, e.g. img/logo.png"`
	Content            *string           `json:"content,omitempty" jsonschema:"the object as text"`
	ContentBase64      string            `json:"content_base64,omitempty" jsonschema:"the object as base64 (binary)"`
	FilePath           string            `json:"file_path,omitempty" jsonschema:"upload this file (in an allowed directory), streamed"`
	ContentType        string            `json:"content_type,omitempty" jsonschema:"MIME type; guessed when absent"`
	CacheControl       string            `json:"cache_control,omitempty" jsonschema:"Cache-Control header"`
	ContentDisposition string            `json:"content_disposition,omitempty" jsonschema:"Content-Disposition header"`
	ContentEncoding    string            `json:"content_encoding,omitempty" jsonschema:"Content-Encoding header; bytes are stored as given"`
	ContentLanguage    string            `json:"content_language,omitempty" jsonschema:"Content-Language header"`
	CustomMetadata     map[string]string `json:"custom_metadata,omitempty" jsonschema:"string pairs, at most 8192 bytes"`
}

type uploadOut struct {
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size" jsonschema:"bytes stored"`
	ETag        string `json:"etag"`
	ContentType string `json:"content_type"`
}

func (r r2Tools) upload(ctx context.Context, in uploadIn) (uploadOut, error) {
	put := storage.ObjectPut{Bucket: in.Bucket, Key: in.Key, CustomMetadata: in.CustomMetadata,
		HTTP: storage.HTTPMetadata{ContentType: in.ContentType, CacheControl: in.CacheControl,
			ContentDisposition: in.ContentDisposition, ContentEncoding: in.ContentEncoding, ContentLanguage: in.ContentLanguage}}
	var head []byte
	switch {
	case countSet(in.Content != nil, in.ContentBase64 != "", in.FilePath != "") != 1:
		return uploadOut{}, errMissing("content, content_base64, file_path: give exactly one of them")
	case in.Content != nil:
		head = []byte(*in.Content)
		put.Body, put.Size = strings.NewReader(*in.Content), int64(len(*in.Content))
	case in.ContentBase64 != "":
		body, size, err := base64Body("content_base64", in.ContentBase64)
		if err != nil {
			return uploadOut{}, err
		}
		head = make([]byte, min(size, 512))
		n, _ := body.ReadAt(head, 0) // checked whole by base64Body
		head = head[:n]
		put.Body, put.Size = body, size
	default:
		f, size, err := r.openUpload(ctx, in.FilePath)
		if err != nil {
			return uploadOut{}, err
		}
		defer f.Close()
		head = make([]byte, 512)
		n, _ := f.ReadAt(head, 0)
		head = head[:n]
		put.Body, put.Size = f, size
		put.Progress = reportProgress(ctx, size, "uploading "+in.Key)
	}
	if put.HTTP.ContentType == "" {
		put.HTTP.ContentType = contentType(in.Key, head[:min(len(head), 512)])
	}
	info, err := r.Store.R2().PutObject(ctx, put)
	if err != nil {
		return uploadOut{}, err
	}
	return uploadOut{Bucket: in.Bucket, Key: info.Key, Size: info.Size, ETag: info.ETag, ContentType: put.HTTP.ContentType}, nil
}

type downloadIn struct {
	Bucket     string `json:"bucket" jsonschema:"bucket name"`
	Key        string `json:"key" jsonschema:"object key"`
	Encoding   string `json:"encoding,omitempty" jsonschema:"auto: text, image or base64 by type" schema:"enum=auto|text|base64,default=auto"`
	SaveTo     string `json:"save_to,omitempty" jsonschema:"file to stream the object to instead (in an allowed directory)"`
	Overwrite  bool   `json:"overwrite,omitempty" jsonschema:"with save_to: replace an existing file (else already_exists)"`
	RangeStart *int64 `json:"range_start,omitempty" jsonschema:"first byte, 0-based" schema:"minimum=0"`
	RangeEnd   *int64 `json:"range_end,omitempty" jsonschema:"last byte, inclusive" schema:"minimum=0"`
}

type downloadOut struct {
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size" jsonschema:"size of the whole object in bytes"`
	Length      int64  `json:"length" jsonschema:"bytes returned or saved (less than size for a range)"`
	ETag        string `json:"etag"`
	ContentType string `json:"content_type"`
	Encoding    string `json:"encoding,omitempty" jsonschema:"text or base64: how the bytes are written in their block"`
	Content     string `json:"content,omitempty" jsonschema:"where the bytes are, sent once after this JSON: in the text block, in the image block, or in the resource block (a base64 blob); absent with save_to"`
	SavedTo     string `json:"saved_to,omitempty" jsonschema:"the file the object was written to"`

	data string // the bytes as encoded, sent in the block Content names
}

// MCPContent sends the bytes once, after the JSON that describes them:
// images as image blocks and other binary data as a blob, so a client can
// display what a model cannot read as text.
func (d downloadOut) MCPContent(summary []byte) []mcp.Content {
	var block mcp.Content
	switch d.Content {
	case inImageBlock:
		block = mcp.NewImageContent(d.data, d.ContentType)
	case inResourceBlock:
		block = mcp.NewEmbeddedResource(mcp.BlobResourceContents{
			URI: "r2://" + d.Bucket + "/" + d.Key, MIMEType: d.ContentType, Blob: d.data})
	default:
		block = mcp.NewTextContent(d.data)
	}
	return valueBlocks(summary, d.Content != "", block)
}

func (r r2Tools) download(ctx context.Context, in downloadIn) (downloadOut, error) {
	if err := checkOverwrite(in.SaveTo, in.Overwrite); err != nil {
		return downloadOut{}, err
	}
	var rng *storage.ByteRange
	if in.RangeStart != nil || in.RangeEnd != nil {
		rng = &storage.ByteRange{End: -1}
		if in.RangeStart != nil {
			rng.Start = *in.RangeStart
		}
		if in.RangeEnd != nil {
			rng.End = *in.RangeEnd
		}
	}
	obj, err := r.Store.R2().GetObject(ctx, in.Bucket, in.Key, rng)
	if err != nil {
		return downloadOut{}, err
	}
	defer obj.Body.Close()
	ct := obj.Info.HTTP.ContentType
	if ct == "" {
		ct = contentType(in.Key, nil)
	}
	out := downloadOut{Bucket: in.Bucket, Key: in.Key, Size: obj.Info.Size, Length: obj.Length, ETag: obj.Info.ETag, ContentType: ct}
	if in.SaveTo != "" {
		out.SavedTo, out.Length, err = r.saveTo(ctx, in.SaveTo, in.Overwrite, obj.Body)
		return out, err
	}
	data, err := readInline("object", obj.Body, obj.Length, r.MaxInlineBytes,
		"pass save_to to stream it to a file, read a part with range_start/range_end, or get a URL with r2_presign")
	if err != nil {
		return downloadOut{}, err
	}
	enc, image := in.Encoding, false
	if enc == "" || enc == encAuto {
		switch {
		case isImage(ct):
			image, enc = true, encBase64
		case isText(ct):
			enc = encAuto
		default:
			enc = encBase64
		}
	}
	if out.Encoding, out.data, err = encodeString(data, enc); err != nil {
		return downloadOut{}, err
	}
	switch {
	case image:
		out.Content = inImageBlock
	case out.Encoding == encBase64:
		out.Content = inResourceBlock
	default:
		out.Content = inTextBlock
	}
	return out, nil
}

type objectKeyIn struct {
	Bucket string `json:"bucket" jsonschema:"bucket name"`
	Key    string `json:"key" jsonschema:"object key"`
}

type headOut struct {
	Found              bool              `json:"found" jsonschema:"false when there is no such object"`
	Key                string            `json:"key"`
	Size               int64             `json:"size,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	Uploaded           string            `json:"uploaded,omitempty" jsonschema:"RFC 3339"`
	ContentType        string            `json:"content_type,omitempty"`
	CacheControl       string            `json:"cache_control,omitempty"`
	ContentDisposition string            `json:"content_disposition,omitempty"`
	ContentEncoding    string            `json:"content_encoding,omitempty"`
	ContentLanguage    string            `json:"content_language,omitempty"`
	CustomMetadata     map[string]string `json:"custom_metadata,omitempty"`
}

func (r r2Tools) head(ctx context.Context, in objectKeyIn) (headOut, error) {
	info, err := r.Store.R2().HeadObject(ctx, in.Bucket, in.Key)
	if storage.CodeOf(err) == storage.CodeNotFound {
		// A missing object is an answer, a missing bucket an error.
		if _, bErr := r.Store.R2().GetBucket(ctx, in.Bucket); bErr != nil {
			return headOut{}, bErr
		}
		return headOut{Found: false, Key: in.Key}, nil
	}
	if err != nil {
		return headOut{}, err
	}
	return headOut{Found: true, Key: info.Key, Size: info.Size, ETag: info.ETag, Uploaded: info.Uploaded.UTC().Format(time.RFC3339),
		ContentType: info.HTTP.ContentType, CacheControl: info.HTTP.CacheControl, ContentDisposition: info.HTTP.ContentDisposition,
		ContentEncoding: info.HTTP.ContentEncoding, ContentLanguage: info.HTTP.ContentLanguage, CustomMetadata: info.CustomMetadata}, nil
}

type r2DeleteIn struct {
	Bucket string   `json:"bucket" jsonschema:"bucket name"`
	Keys   []string `json:"keys" jsonschema:"keys to delete" schema:"minItems=1,maxItems=1000"`
}

type r2DeleteOut struct {
	Deleted []string              `json:"deleted" jsonschema:"keys that no longer exist (absent keys count as deleted)"`
	Errors  []storage.DeleteError `json:"errors" jsonschema:"keys that could not be deleted, with why"`
}

func (r r2Tools) delete(ctx context.Context, in r2DeleteIn) (r2DeleteOut, error) {
	if err := storage.ValidateObjectKeys(in.Keys); err != nil {
		return r2DeleteOut{}, err // refused anyway: the user is not asked
	}
	if keys := distinct(in.Keys); len(keys) > manyKeys {
		if _, err := r.Store.R2().GetBucket(ctx, in.Bucket); err != nil {
			return r2DeleteOut{}, err
		}
		d := Deletion{Tool: "r2_delete", What: "objects", In: "R2 bucket", Name: in.Bucket, Items: keys}
		if err := confirmed(ctx, r.Confirm, d, nil); err != nil {
			return r2DeleteOut{}, err
		}
	}
	res, err := r.Store.R2().DeleteObjects(ctx, in.Bucket, in.Keys)
	if err != nil {
		return r2DeleteOut{}, err
	}
	return r2DeleteOut{Deleted: nonNil(res.Deleted), Errors: nonNil(res.Errors)}, nil
}

type copyIn struct {
	SourceBucket string `json:"source_bucket" jsonschema:"bucket to copy from"`
	SourceKey    string `json:"source_key" jsonschema:"key to copy"`
	Bucket       string `json:"bucket" jsonschema:"destination bucket (may be the same)"`
	Key          string `json:"key" jsonschema:"destination key; replaced if it exists"`
}

type copyOut struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

func (r r2Tools) copy(ctx context.Context, in copyIn) (copyOut, error) {
	info, err := r.Store.R2().CopyObject(ctx, storage.ObjectRef{Bucket: in.SourceBucket, Key: in.SourceKey}, storage.ObjectRef{Bucket: in.Bucket, Key: in.Key})
	if err != nil {
		return copyOut{}, err
	}
	return copyOut{Bucket: in.Bucket, Key: info.Key, Size: info.Size, ETag: info.ETag}, nil
}

type presignIn struct {
	Bucket    string `json:"bucket" jsonschema:"bucket name"`
	Key       string `json:"key" jsonschema:"object key"`
	Method    string `json:"method,omitempty" jsonschema:"GET downloads, PUT uploads" schema:"enum=GET|PUT,default=GET"`
	ExpiresIn int64  `json:"expires_in,omitempty" jsonschema:"seconds the URL is valid" schema:"minimum=1,maximum=604800,default=3600"`
}

type presignOut struct {
	URL       string `json:"url" jsonschema:"anyone with this URL can use it until it expires"`
	Method    string `json:"method"`
	ExpiresAt string `json:"expires_at" jsonschema:"RFC 3339"`
}

func (r r2Tools) presign(ctx context.Context, in presignIn) (presignOut, error) {
	if in.Method == "" {
		in.Method = "GET"
	}
	exp := storage.DefaultPresignExpiry
	if in.ExpiresIn != 0 {
		exp = time.Duration(in.ExpiresIn) * time.Second
	}
	u, err := r.Store.R2().Presign(ctx, storage.PresignRequest{Bucket: in.Bucket, Key: in.Key, Method: in.Method, Expires: exp})
	if err != nil {
		return presignOut{}, err
	}
	return presignOut{URL: u.URL, Method: in.Method, ExpiresAt: u.ExpiresAt.UTC().Format(time.RFC3339)}, nil
}

func (r r2Tools) declare() ([]Tool, []error) {
	g := newGroup(ToolsetR2, r.Deps)
	add(g, Spec[listBucketsIn, listBucketsOut]{
		Name: "list_r2_buckets", Title: "List R2 buckets", Hints: readHints, Handle: r.listBuckets,
		Description: "List R2 buckets (creation date, location, storage class).",
	})
	add(g, Spec[createBucketIn, createBucketOut]{
		Name: "create_r2_bucket", Title: "Create an R2 bucket", Hints: createHints, Handle: r.createBucket,
		Description: "Create an R2 bucket; returns a wrangler.toml binding for a Worker.",
	})
	add(g, Spec[deleteBucketIn, deleteBucketOut]{
		Name: "delete_r2_bucket", Title: "Delete an R2 bucket", Hints: replaceHints, Handle: r.deleteBucket,
		Description: "Delete an empty R2 bucket (else conflict: empty it with r2_list and r2_delete). Ask the user first (with elicitation the server asks).",
	})
	add(g, Spec[r2ListIn, r2ListOut]{
		Name: "r2_list", Title: "List objects in a bucket", Hints: readHints, Handle: r.list,
		Description: "List a bucket like a folder: objects (key, size, ETag, upload time, type) in key order, and sub-folders as prefixes.",
	})
	add(g, Spec[uploadIn, uploadOut]{
		Name: "r2_upload", Title: "Upload an object", Hints: replaceHints, Handle: r.upload,
		Description: "Store an object, replacing any at that key: exactly one of content, content_base64 or file_path (best for large files; reports progress).",
	})
	add(g, Spec[downloadIn, downloadOut]{
		Name: "r2_download", Title: "Download an object", Hints: readHints, Handle: r.download,
		Description: fmt.Sprintf("Read an object: text as text, images as an image, else base64, up to %s. For more use save_to, a byte range or r2_presign.", sizeText(r.MaxInlineBytes)),
	})
	add(g, Spec[objectKeyIn, headOut]{
		Name: "r2_head", Title: "Describe an object", Hints: readHints, Handle: r.head,
		Description: "An object's size, ETag, upload time and metadata, without its bytes; found:false if missing.",
	})
	add(g, Spec[r2DeleteIn, r2DeleteOut]{
		Name: "r2_delete", Title: "Delete objects", Hints: replaceHints, Handle: r.delete,
		Description: "Delete objects by key, for good; absent keys count as deleted. Ask the user before deleting what they did not name (over one key, with elicitation the server asks).",
	})
	add(g, Spec[copyIn, copyOut]{
		Name: "r2_copy", Title: "Copy an object", Hints: replaceHints, Handle: r.copy,
		Description: "Copy an object with its metadata, server-side, replacing the destination.",
	})
	add(g, Spec[presignIn, presignOut]{
		Name: "r2_presign", Title: "Make a presigned URL", Hints: createHints, Handle: r.presign,
		Description: "A URL that lets anyone GET or PUT one object, without credentials, until it expires. Cloudflare backend only.",
	})
	return g.done()
}
