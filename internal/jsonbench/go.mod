module github.com/osqdetect/osqdetect/internal/jsonbench

go 1.26.0

require github.com/osqdetect/osqdetect v0.0.0

require github.com/valyala/fastjson v1.6.10

require golang.org/x/sys v0.49.0 // indirect

replace github.com/osqdetect/osqdetect => ../..
