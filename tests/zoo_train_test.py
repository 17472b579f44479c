"""A few steps of the real train loop for the deeper CIFAR models, on tfds
mock data of the CIFAR shape (split from zoo_test.py to keep files short)."""

from zoo_test import _cifar_resnet_params, check_run, mock_run


def test_resnet56_trains_on_cifar100_shape(tmp_path):
  config, (state, results) = mock_run(
      tmp_path, 'cifar100', 'resnet56', steps=2, in_memory=False,
      model_kwargs={'num_classes': 100})
  check_run(state, results, config, _cifar_resnet_params(9, 100))


def test_vgg16_trains_on_cifar10_shape(tmp_path):
  config, (state, results) = mock_run(tmp_path, 'cifar10', 'vgg16_cifar',
                                      steps=2, in_memory=False)
  check_run(state, results, config, 14_987_722)
