package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coder/websocket"
)

// maxFrameBytes bounds one websocket message (one host's answer).
const maxFrameBytes = 32 << 20

// ErrStreamClosed is returned by Stream.Next once the server closed the
// results websocket.
var ErrStreamClosed = errors.New("fleet: results stream closed")

// MessageError is a message from the results websocket that could not be
// read: malformed JSON or an unknown type. The stream stays usable.
type MessageError struct {
	Type string // message type, "" when the envelope itself is malformed
	Err  error
}

func (e *MessageError) Error() string {
	if e.Type == "" {
		return "results websocket: malformed message: " + e.Err.Error()
	}
	return fmt.Sprintf("results websocket: malformed %s message: %v", e.Type, e.Err)
}

// Unwrap returns the decoding error.
func (e *MessageError) Unwrap() error { return e.Err }

// Totals is the "totals" message: the campaign's target hosts by state.
type Totals struct {
	Count           uint `json:"count"`
	Online          uint `json:"online"`
	Offline         uint `json:"offline"`
	MissingInAction uint `json:"missing_in_action"`
}

// CampaignStatus is the "status" message. Fleet expects one result per host
// that was online when the campaign started, and says "finished" when that
// many arrived.
type CampaignStatus struct {
	ExpectedResults uint   `json:"expected_results"`
	ActualResults   uint   `json:"actual_results"`
	Status          string `json:"status"` // pending, finished
}

// Result is the "result" message: one host's answer. Fleet adds the columns
// host_hostname and host_display_name to every row.
type Result struct {
	ExecutionID uint    `json:"distributed_query_execution_id"`
	Host        Host    `json:"host"`
	Rows        []Row   `json:"rows"`
	Error       *string `json:"error"`
}

// Message is one message from the results websocket; exactly one of its
// pointers is set, or Error for an "error" message.
type Message struct {
	Type   string
	Totals *Totals
	Status *CampaignStatus
	Result *Result
	Error  string // text of an "error" message from the server
}

// Stream reads a campaign's results from Fleet's websocket.
type Stream struct {
	conn   *websocket.Conn
	client *Client
}

type wsMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// StreamCampaign opens the results websocket, authenticates and selects the
// campaign. Only the user who created a campaign may read it. Closing the
// stream ends the campaign: Fleet stops sending the query to hosts.
func (c *Client) StreamCampaign(ctx context.Context, campaignID uint) (*Stream, error) {
	s, err := c.streamCampaign(ctx, campaignID)
	return s, c.scrub(err)
}

func (c *Client) streamCampaign(ctx context.Context, campaignID uint) (*Stream, error) {
	if c.token == "" {
		return nil, errors.New("no Fleet API token configured")
	}
	u := *c.base
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	u.Path = c.base.Path + apiPrefix + "/results/websocket"
	hdr := c.header.Clone()
	if hdr == nil {
		hdr = make(map[string][]string)
	}
	if c.userAgent != "" {
		hdr.Set("User-Agent", c.userAgent)
	}
	dialCtx, cancel := context.WithTimeout(ctx, c.reqTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dialCtx, u.String(), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("opening results websocket: %d %s: %w", resp.StatusCode, strings.ToLower(resp.Status), err)
		}
		return nil, fmt.Errorf("opening results websocket: %w", err)
	}
	conn.SetReadLimit(maxFrameBytes)
	s := &Stream{conn: conn, client: c}
	if err := s.send(ctx, "auth", map[string]string{"token": c.token}); err != nil {
		s.Close()
		return nil, fmt.Errorf("authenticating results websocket: %w", err)
	}
	if err := s.send(ctx, "select_campaign", map[string]uint{"campaign_id": campaignID}); err != nil {
		s.Close()
		return nil, fmt.Errorf("selecting campaign %d: %w", campaignID, err)
	}
	return s, nil
}

func (s *Stream) send(ctx context.Context, typ string, data any) error {
	b, err := json.Marshal(map[string]any{"type": typ, "data": data})
	if err != nil {
		return err
	}
	return s.conn.Write(ctx, websocket.MessageText, b)
}

// Next waits for the next message. It returns ErrStreamClosed when the
// server closed the stream, and ctx's error when ctx ends first (which also
// closes the stream). A malformed message is an error naming its type; the
// stream stays usable.
func (s *Stream) Next(ctx context.Context) (Message, error) {
	_, b, err := s.conn.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		if websocket.CloseStatus(err) != -1 {
			return Message{}, ErrStreamClosed
		}
		return Message{}, s.client.scrub(fmt.Errorf("reading results websocket: %w", err))
	}
	var m wsMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, &MessageError{Err: err}
	}
	msg := Message{Type: m.Type}
	switch m.Type {
	case "totals":
		msg.Totals = new(Totals)
		err = json.Unmarshal(m.Data, msg.Totals)
	case "status":
		msg.Status = new(CampaignStatus)
		err = json.Unmarshal(m.Data, msg.Status)
	case "result":
		msg.Result = new(Result)
		err = json.Unmarshal(m.Data, msg.Result)
	case "error":
		// Fleet sends a string; accept any JSON and show it as text.
		var text string
		if json.Unmarshal(m.Data, &text) != nil {
			text = string(m.Data)
		}
		msg.Error = redact(text, s.client.token)
	default:
		return msg, &MessageError{Type: m.Type, Err: errors.New("unknown message type")}
	}
	if err != nil {
		return msg, &MessageError{Type: m.Type, Err: err}
	}
	return msg, nil
}

// Close ends the stream, which completes the campaign on the server.
func (s *Stream) Close() error {
	return s.conn.Close(websocket.StatusNormalClosure, "")
}
