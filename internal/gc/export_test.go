package gc

// ParseRequest exposes parseRequest to the tests.
var ParseRequest = parseRequest
