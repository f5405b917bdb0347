"""A small DNN classifier, as in Alink: dnn_batch (and, later, dnn_stream and dnn_train)."""
