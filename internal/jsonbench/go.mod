module github.com/osqdetect/osqdetect/internal/jsonbench

go 1.26.0

require github.com/osqdetect/osqdetect v0.0.0

require github.com/valyala/fastjson v1.6.10

replace github.com/osqdetect/osqdetect => ../..
