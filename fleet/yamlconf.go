package fleet

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// fleetctlFile is fleetctl's config file (~/.fleet/config), which fleetctl
// writes with ghodss/yaml over yaml.v2 and users edit by hand. It is read
// with a YAML library, so every valid spelling loads: flow mappings, block
// scalars, any quoting, comments, anchors.
type fleetctlFile struct {
	Contexts map[string]*fleetctlContext `yaml:"contexts"`
}

type fleetctlContext struct {
	Address       string            `yaml:"address"`
	Token         string            `yaml:"token"`
	RootCA        string            `yaml:"rootca"`
	URLPrefix     string            `yaml:"url-prefix"`
	TLSSkipVerify yamlBool          `yaml:"tls-skip-verify"`
	CustomHeaders map[string]string `yaml:"custom-headers"`
}

// yamlBool reads a boolean written plain (true), quoted ("true") or in
// YAML 1.1 words (yes, on), as yaml.v2 and hand-written files have it.
type yamlBool bool

func (b *yamlBool) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected true or false", n.Line)
	}
	switch n.Value {
	case "", "~", "null":
		*b = false
		return nil
	case "yes", "Yes", "YES", "on", "On", "ON", "y", "Y":
		*b = true
		return nil
	case "no", "No", "NO", "off", "Off", "OFF", "n", "N":
		*b = false
		return nil
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a boolean", n.Line, n.Value)
	}
	*b = yamlBool(v)
	return nil
}

// parseFleetctlFile decodes the config file's contents.
func parseFleetctlFile(data []byte) (*fleetctlFile, error) {
	var f fleetctlFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	return &f, nil
}
