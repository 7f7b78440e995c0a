package osqcore

import (
	"context"
	"errors"
	"net"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
)

// The manager speaks Thrift's binary protocol, unframed, over a buffered
// transport: what osqueryd's TThreadedServer with TBufferedTransportFactory
// and TBinaryProtocolFactory puts on the wire. The accept loop is our own
// (instead of thrift's TSimpleServer) so that Stop can close client
// connections that stay open, as osquery-go clients do.

func (c *Core) acceptLoop() {
	defer c.wg.Done()
	for {
		conn, err := c.listener.Accept()
		if err != nil {
			select {
			case <-c.stopping:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("accepting connection", "err", err)
			continue
		}
		c.connMu.Lock()
		select {
		case <-c.stopping:
			c.connMu.Unlock()
			conn.Close()
			continue
		default:
		}
		c.conns[conn] = struct{}{}
		c.wg.Add(1)
		c.connMu.Unlock()
		go c.serveConn(conn)
	}
}

func (c *Core) serveConn(conn net.Conn) {
	defer c.wg.Done()
	defer func() {
		c.connMu.Lock()
		delete(c.conns, conn)
		c.connMu.Unlock()
		conn.Close()
	}()
	cfg := &thrift.TConfiguration{}
	sock := thrift.NewTSocketFromConnConf(conn, cfg)
	trans := thrift.NewTBufferedTransport(sock, 64*1024)
	proto := thrift.NewTBinaryProtocolConf(trans, cfg)
	proc := gen.NewExtensionManagerProcessor(&managerHandler{c: c})
	for {
		ok, err := proc.Process(c.serveCtx, proto, proto)
		if err != nil {
			var te thrift.TTransportException
			if errors.As(err, &te) || errors.Is(err, thrift.ErrAbandonRequest) {
				return
			}
			var ae thrift.TApplicationException
			if errors.As(err, &ae) && ae.TypeId() == thrift.UNKNOWN_METHOD {
				continue
			}
			var pe thrift.TProtocolException
			if errors.As(err, &pe) {
				return
			}
		}
		if !ok {
			return
		}
	}
}

// managerHandler implements the generated gen.ExtensionManager interface.
type managerHandler struct{ c *Core }

var _ gen.ExtensionManager = (*managerHandler)(nil)

func (h *managerHandler) Ping(context.Context) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 0, Message: "pong"}, nil
}

// Call reaches the core's own registry: table plugins answer "generate" and
// "columns" like osquery's TablePlugin; items owned by an extension are
// routed to it.
func (h *managerHandler) Call(ctx context.Context, registry, item string, req gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return h.c.callRegistry(ctx, registry, item, req), nil
}

func (h *managerHandler) Shutdown(context.Context) error {
	h.c.log.Info("shutdown requested through the extension manager")
	h.c.requestShutdown()
	return nil
}

func (h *managerHandler) Extensions(context.Context) (gen.InternalExtensionList, error) {
	out := gen.InternalExtensionList{}
	for _, e := range h.c.Extensions() {
		out[gen.ExtensionRouteUUID(e.UUID)] = &gen.InternalExtensionInfo{
			Name: e.Name, Version: e.Version, SdkVersion: e.SDKVersion,
		}
	}
	return out, nil
}

func (h *managerHandler) Options(context.Context) (gen.InternalOptionList, error) {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	out := gen.InternalOptionList{}
	for name, value := range c.flags {
		spec, _ := lookupFlag(name)
		out[name] = &gen.InternalOptionInfo{Value: value, DefaultValue: spec.def, Type: spec.typ}
	}
	return out, nil
}

func (h *managerHandler) RegisterExtension(_ context.Context, info *gen.InternalExtensionInfo, registry gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	return h.c.registerExtension(info, registry), nil
}

func (h *managerHandler) DeregisterExtension(_ context.Context, id gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	return h.c.deregisterExtension(int64(id)), nil
}

func (h *managerHandler) Query(ctx context.Context, sql string) (*gen.ExtensionResponse, error) {
	rows, err := h.c.Query(ctx, sql)
	if err != nil {
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: err.Error()}}, nil
	}
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: rows}, nil
}

func (h *managerHandler) GetQueryColumns(ctx context.Context, sql string) (*gen.ExtensionResponse, error) {
	cols, err := h.c.QueryColumns(ctx, sql)
	if err != nil {
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: err.Error()}}, nil
	}
	resp := make(gen.ExtensionPluginResponse, 0, len(cols))
	for _, col := range cols {
		resp = append(resp, map[string]string{col.Name: col.Type})
	}
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: resp}, nil
}
