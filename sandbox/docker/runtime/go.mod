module proctor.dev/runtime

go 1.26.0
