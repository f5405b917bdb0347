from akdl.models.tf.dnn import dnn_stream
from akdl.runner.config import StreamTaskConfig


def main(task_config: StreamTaskConfig):
    dnn_stream.main(task_config)
