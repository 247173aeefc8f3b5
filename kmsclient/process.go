package kmsclient

import (
	"os"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

// This file holds the process-wide state kmsclient shares with the SDK.

// debugAtInit is DEBUG as the process started with it. The SDK reads DEBUG
// once, at package initialisation (sdk/utils/debug.go Init, called from
// package-level initialisers), and prints request URLs and response bodies
// for good if it held "sdk" then, whatever the variable holds later. New
// therefore checks this value as well as the current one.
var debugAtInit = os.Getenv("DEBUG")

// sdkEndpointsOnce fills the SDK's package-level endpoint maps once.
var sdkEndpointsOnce sync.Once

// initSDKEndpoints fills kms.EndpointMap, sts.EndpointMap and
// ram.EndpointMap, which each product's GetEndpointMap assigns lazily,
// without a lock, from every NewClientWithOptions
// (services/kms/endpoint.go:10-15 in v1.63.107): the first concurrent calls
// of a fresh process raced on them. After this only reads remain. kmsclient
// always sets an explicit endpoint (Client.Domain), so the maps' contents
// are never used to route a call.
func initSDKEndpoints() {
	sdkEndpointsOnce.Do(func() {
		kms.GetEndpointMap()
		sts.GetEndpointMap()
		ram.GetEndpointMap()
	})
}

// Package initialisation runs before any goroutine of the program can call
// kmsclient, so the maps are filled before any concurrent use; New calls
// initSDKEndpoints again (a no-op then) so that the guarantee does not rest
// on initialisation order alone.
func init() { initSDKEndpoints() }
