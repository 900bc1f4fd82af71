package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Network is the system-wide network rule: the source networks every
// pull and push must come from (empty: any), which the rules of projects
// and robots narrow further.
type Network struct {
	Pull []string `yaml:"pull"`
	Push []string `yaml:"push"`
	// AdminBypass lets system administrators pull and push from anywhere.
	AdminBypass bool `yaml:"admin_bypass"`
}

// MaxNetworks bounds the entries of one network list.
const MaxNetworks = 256

// ParseNetworks parses a list of addresses and CIDRs ("10.0.0.0/8",
// "192.0.2.7", "2001:db8::/32") into masked prefixes.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	if len(list) > MaxNetworks {
		return nil, fmt.Errorf("more than %d networks", MaxNetworks)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or CIDR", s)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", s)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q is not an address or CIDR", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (n Network) validate(bad func(string, ...any)) {
	if _, err := ParseNetworks(n.Pull); err != nil {
		bad("auth.network.pull: %v", err)
	}
	if _, err := ParseNetworks(n.Push); err != nil {
		bad("auth.network.push: %v", err)
	}
}
