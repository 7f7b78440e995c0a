package extension

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osquery "github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
)

// CoreClient is the one connection the extension keeps to osquery's
// extension manager socket. Calls are serialized (one thrift socket), honour
// the caller's context both while waiting for the socket and during the call,
// and a failed call drops the connection so the next call dials again.
//
// It replaces osquery-go's ExtensionManagerClient, whose Close does nothing at
// the pinned version (every re-created client leaks a socket) and whose
// connection stays unusable after one timed-out read.
//
// CoreClient also implements osquery.ExtensionManager, so the extension
// server can share it (osquery.WithClient) for registering and deregistering.
type CoreClient struct {
	path        string
	callTimeout time.Duration
	lock        chan struct{} // one slot: held by the call in flight

	// Guarded by lock.
	sock   *thrift.TSocket
	client *gen.ExtensionManagerClient
	reader *bufio.Reader // the connection's read buffer, for QueryColumns
	// sizeHint sizes the next QueryColumns answer's buffer: the value
	// bytes of the recent ones.
	sizeHint int
}

// ErrNotOK is wrapped by errors for answers whose status code is not 0.
var ErrNotOK = errors.New("osquery returned a failure status")

// NewCoreClient returns a client for the manager socket at path. It does
// not connect: the first call does. callTimeout bounds each socket read and
// write, and every call made without a context deadline.
func NewCoreClient(path string, callTimeout time.Duration) *CoreClient {
	if callTimeout <= 0 {
		callTimeout = 30 * time.Second
	}
	return &CoreClient{path: path, callTimeout: callTimeout, lock: make(chan struct{}, 1)}
}

// Path is the manager socket this client talks to.
func (c *CoreClient) Path() string { return c.path }

// WaitForSocket blocks until path exists as a file or ctx ends.
func WaitForSocket(ctx context.Context, path string) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for osquery socket %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// do runs one call with the connection held, dialing first when needed.
func (c *CoreClient) do(ctx context.Context, what string, call func(context.Context, *gen.ExtensionManagerClient) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.callTimeout)
		defer cancel()
	}
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the osquery connection: %w", what, ctx.Err())
	}
	defer func() { <-c.lock }()

	if c.client == nil {
		if err := c.dial(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	// A context that ends mid-call closes the socket, which unblocks the
	// read; stop reports whether that happened, and then the connection is
	// dropped even when the call itself got through.
	sock := c.sock
	stop := context.AfterFunc(ctx, func() { _ = sock.Close() })
	err := call(ctx, c.client)
	if !stop() && err == nil {
		c.dropLocked()
	}
	if err != nil {
		c.dropLocked()
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (%v)", what, ctx.Err(), err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (c *CoreClient) dial(ctx context.Context) error {
	if _, err := os.Stat(c.path); err != nil {
		return fmt.Errorf("osquery socket %s: %w", c.path, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return fmt.Errorf("connecting to osquery socket %s: %w", c.path, err)
	}
	sock := thrift.NewTSocketFromConnConf(conn, &thrift.TConfiguration{
		ConnectTimeout: c.callTimeout,
		SocketTimeout:  c.callTimeout,
	})
	c.sock = sock
	// Buffered, as osqueryd's own server transport is: unbuffered, the
	// binary protocol reads every field of a reply with its own syscall.
	buffered := thrift.NewTBufferedTransport(sock, 64<<10)
	c.client = gen.NewExtensionManagerClientFactory(buffered, thrift.NewTBinaryProtocolFactoryConf(nil))
	c.reader = buffered.Reader
	return nil
}

func (c *CoreClient) dropLocked() {
	if c.sock != nil {
		_ = c.sock.Close()
	}
	c.sock, c.client, c.reader = nil, nil, nil
}

// Close drops the connection; a later call dials again.
func (c *CoreClient) Close() {
	c.lock <- struct{}{}
	c.dropLocked()
	<-c.lock
}

func statusErr(what string, st *gen.ExtensionStatus) error {
	if st == nil {
		return fmt.Errorf("%s: %w: no status in the answer", what, ErrNotOK)
	}
	if st.Code != 0 {
		return fmt.Errorf("%s: %w: code %d: %s", what, ErrNotOK, st.Code, st.Message)
	}
	return nil
}

// PingContext checks that the core answers.
func (c *CoreClient) PingContext(ctx context.Context) error {
	var st *gen.ExtensionStatus
	err := c.do(ctx, "pinging osquery", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		st, err = cl.Ping(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return statusErr("pinging osquery", st)
}

// QueryRows runs sql on the core and returns its rows.
func (c *CoreClient) QueryRows(ctx context.Context, sql string) ([]map[string]string, error) {
	var resp *gen.ExtensionResponse
	what := "querying osquery"
	err := c.do(ctx, what, func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		resp, err = cl.Query(ctx, sql)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, fmt.Errorf("%s: %w: empty answer", what, ErrNotOK)
	}
	if err := statusErr(what, resp.Status); err != nil {
		return nil, err
	}
	rows := make([]map[string]string, len(resp.Response))
	copy(rows, resp.Response)
	return rows, nil
}

// QueryColumns runs sql on the core and decodes the answer straight into
// ColumnRows for columns (other columns are skipped): no map and no string
// allocation per row, one buffer for every value. The answer may take the
// buffers of reuse, an earlier answer no longer in use (ColumnRows{}: none).
func (c *CoreClient) QueryColumns(ctx context.Context, sql string, columns []string, reuse ColumnRows) (ColumnRows, error) {
	what := "querying osquery"
	res := newColumnsResult(nil, columns)
	res.reuse = reuse
	err := c.do(ctx, what, func(ctx context.Context, cl *gen.ExtensionManagerClient) error {
		res.r, res.sizeHint = c.reader, c.sizeHint
		_, err := cl.Client_().Call(ctx, "query", &gen.ExtensionManagerQueryArgs{Sql: sql}, res)
		// The hint follows the larger answers (the poller's tables take
		// turns) and lets a flood's size go slowly.
		c.sizeHint = max(res.sizeHint, c.sizeHint-c.sizeHint/8)
		return err
	})
	if err != nil {
		return ColumnRows{}, err
	}
	if !res.success {
		return ColumnRows{}, fmt.Errorf("%s: %w: empty answer", what, ErrNotOK)
	}
	if !res.hasStatus {
		return ColumnRows{}, fmt.Errorf("%s: %w: no status in the answer", what, ErrNotOK)
	}
	if res.code != 0 {
		return ColumnRows{}, fmt.Errorf("%s: %w: code %d: %s", what, ErrNotOK, res.code, res.message)
	}
	return res.out, nil
}

// ExtensionNames lists the names of the extensions registered with the core.
func (c *CoreClient) ExtensionNames(ctx context.Context) ([]string, error) {
	var list gen.InternalExtensionList
	err := c.do(ctx, "listing osquery extensions", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		list, err = cl.Extensions(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list))
	for _, info := range list {
		if info != nil {
			names = append(names, info.Name)
		}
	}
	return names, nil
}

// The methods below make CoreClient an osquery.ExtensionManager for the
// extension server. They use callTimeout as their deadline.

var _ osquery.ExtensionManager = (*CoreClient)(nil)

func (c *CoreClient) bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.callTimeout)
}

// Ping implements osquery.ExtensionManager.
func (c *CoreClient) Ping() (*gen.ExtensionStatus, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var st *gen.ExtensionStatus
	err := c.do(ctx, "pinging osquery", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		st, err = cl.Ping(ctx)
		return err
	})
	return st, err
}

// Call implements osquery.ExtensionManager.
func (c *CoreClient) Call(registry, item string, req gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var resp *gen.ExtensionResponse
	err := c.do(ctx, "calling osquery plugin", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		resp, err = cl.Call(ctx, registry, item, req)
		return err
	})
	return resp, err
}

// Extensions implements osquery.ExtensionManager.
func (c *CoreClient) Extensions() (gen.InternalExtensionList, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var list gen.InternalExtensionList
	err := c.do(ctx, "listing osquery extensions", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		list, err = cl.Extensions(ctx)
		return err
	})
	return list, err
}

// RegisterExtension implements osquery.ExtensionManager.
func (c *CoreClient) RegisterExtension(info *gen.InternalExtensionInfo, registry gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var st *gen.ExtensionStatus
	err := c.do(ctx, "registering with osquery", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		st, err = cl.RegisterExtension(ctx, info, registry)
		return err
	})
	return st, err
}

// DeregisterExtension implements osquery.ExtensionManager.
func (c *CoreClient) DeregisterExtension(uuid gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var st *gen.ExtensionStatus
	err := c.do(ctx, "deregistering from osquery", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		st, err = cl.DeregisterExtension(ctx, uuid)
		return err
	})
	return st, err
}

// Options implements osquery.ExtensionManager.
func (c *CoreClient) Options() (gen.InternalOptionList, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var opts gen.InternalOptionList
	err := c.do(ctx, "reading osquery options", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		opts, err = cl.Options(ctx)
		return err
	})
	return opts, err
}

// Query implements osquery.ExtensionManager.
func (c *CoreClient) Query(sql string) (*gen.ExtensionResponse, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var resp *gen.ExtensionResponse
	err := c.do(ctx, "querying osquery", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		resp, err = cl.Query(ctx, sql)
		return err
	})
	return resp, err
}

// GetQueryColumns implements osquery.ExtensionManager.
func (c *CoreClient) GetQueryColumns(sql string) (*gen.ExtensionResponse, error) {
	ctx, cancel := c.bg()
	defer cancel()
	var resp *gen.ExtensionResponse
	err := c.do(ctx, "reading query columns", func(ctx context.Context, cl *gen.ExtensionManagerClient) (err error) {
		resp, err = cl.GetQueryColumns(ctx, sql)
		return err
	})
	return resp, err
}
