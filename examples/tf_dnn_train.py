from akdl.models.tf.dnn import dnn_train
from akdl.runner.config import TrainTaskConfig


def main(task_config: TrainTaskConfig):
    dnn_train.main(task_config)
