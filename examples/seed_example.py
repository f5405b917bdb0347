# The seed program from Alink's documentation, verbatim except for the import and a local path
# to the script (examples/tf_dnn_batch.py).
import json
import os

from operators import *

script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_dnn_batch.py")

source = RandomTableSourceBatchOp() \
    .setNumRows(100) \
    .setNumCols(10)

colNames = source.getColNames()
label = "label"

userParams = {
    'featureCols': json.dumps(colNames),
    'labelCol': label,
    'batch_size': 16,
    'num_epochs': 1
}

tensorFlowBatchOp = TensorFlowBatchOp() \
    .setUserFiles([script]) \
    .setMainScriptFile(script) \
    .setUserParams(json.dumps(userParams)) \
    .setOutputSchemaStr("model_id long, model_info string") \
    .setNumWorkers(1) \
    .setNumPSs(0)

source = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label") \
    .link(tensorFlowBatchOp) \
    .print()
