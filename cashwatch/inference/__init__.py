"""The shared inference service: one process per GPU or group of cores runs the models
for every camera (issue #28). Camera workers keep no model: they letterbox the model
input into a shared-memory slot of their own and send its name over a Unix socket; the
service batches what several cameras sent, runs the model and answers with the poses.

- `protocol`: the socket's messages, where the sockets live, poses as bytes.
- `slots`: the per-camera input slots in shared memory (the manager makes them).
- `batching`: which waiting requests run together, and which are past their deadline.
- `server`: the service's loop; `process`: its process entry (spawned by the manager).
- `client`: `RemotePoseModel`, the `PoseModel` a camera worker uses instead of a model.
"""
