"""A small Vision Transformer for 28x28 and 32x32 images.

Dosovitskiy et al. 2021 ("An Image is Worth 16x16 Words"): the image is cut
into non-overlapping `patch_size` x `patch_size` patches, each flattened and
projected by one Dense layer (``embed``; the same map as a strided conv, but
a Dense that compression rules and the quantized-layer interception treat
like every other), a learned class token is prepended and learned position
embeddings added, then `depth` pre-norm encoder blocks

  x = x + Attn(LN(x)),   x = x + MLP(LN(x))

and a final LayerNorm; the class token's output (or, with ``pool='mean'``,
the mean over the patch tokens) goes to the ``head`` classifier.

Every weight is a Dense kernel with a stable path, so rules select them:
``embed``, ``block{i}/attn/query|key|value|out``,
``block{i}/mlp/fc1|fc2``, ``head``; plus ``cls``, ``pos_embedding`` and the
LayerNorms ``block{i}/ln1|ln2``, ``norm``. Attention is written out
(query/key/value Dense layers reshaped into heads) rather than with
`nn.MultiHeadDotProductAttention`, whose DenseGeneral projections the
quantization interception does not see.

Structured pruning: the MLP's hidden units are a prunable group per block
(``mlp_dim`` sets their width, tied across blocks); the residual stream is
blocked (LayerNorm reduces over it) and so are query/key/value, whose
channels a reshape splits into heads: removing attention heads is refused
with that reason, naming the layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class Attention(nn.Module):
  """Multi-head self-attention with Dense query/key/value/out."""
  num_heads: int

  @nn.compact
  def __call__(self, x):
    b, t, d = x.shape
    dh = d // self.num_heads
    split = lambda y: y.reshape(b, t, self.num_heads, dh)
    q = split(nn.Dense(d, name='query')(x))
    k = split(nn.Dense(d, name='key')(x))
    v = split(nn.Dense(d, name='value')(x))
    logits = jnp.einsum('bqhd,bkhd->bhqk', q, k) / jnp.sqrt(dh).astype(
        x.dtype)
    weights = jax.nn.softmax(logits, axis=-1)
    y = jnp.einsum('bhqk,bkhd->bqhd', weights, v).reshape(b, t, d)
    return nn.Dense(d, name='out')(y)


class MLP(nn.Module):
  """Dense-GELU-Dense."""
  hidden: int
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, train: bool = False):
    d = x.shape[-1]
    x = nn.gelu(nn.Dense(self.hidden, name='fc1')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(d, name='fc2')(x)


class EncoderBlock(nn.Module):
  """Pre-norm transformer block."""
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, train: bool = False):
    drop = nn.Dropout(self.dropout_rate, deterministic=not train)
    y = Attention(self.num_heads, name='attn')(nn.LayerNorm(name='ln1')(x))
    x = x + drop(y)
    y = MLP(self.mlp_dim, self.dropout_rate, name='mlp')(
        nn.LayerNorm(name='ln2')(x), train)
    return x + drop(y)


class ViT(nn.Module):
  """Vision Transformer for small images.

  Attributes:
    patch_size: side of the square patches; must divide the image sides.
    hidden: token width.
    depth: number of encoder blocks.
    num_heads: attention heads; must divide `hidden`.
    mlp_dim: hidden width of each block's MLP.
    num_classes: classifier width.
    pool: 'cls' (class token) or 'mean' (mean of the patch tokens).
    dropout_rate: dropout after attention and in the MLPs.
  """
  patch_size: int = 4
  hidden: int = 64
  depth: int = 4
  num_heads: int = 4
  mlp_dim: int = 128
  num_classes: int = 10
  pool: str = 'cls'
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, train: bool = False):
    b, h, w, c = x.shape
    p = self.patch_size
    if h % p or w % p:
      raise ValueError(f'patch_size {p} does not divide the {h}x{w} image')
    if self.hidden % self.num_heads:
      raise ValueError(f'num_heads {self.num_heads} does not divide hidden '
                       f'{self.hidden}')
    if self.pool not in ('cls', 'mean'):
      raise ValueError(f"pool must be 'cls' or 'mean', got {self.pool!r}")
    x = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, (h // p) * (w // p), p * p * c)
    x = nn.Dense(self.hidden, name='embed')(x)
    if self.pool == 'cls':
      cls = self.param('cls', nn.initializers.zeros, (1, 1, self.hidden))
      x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.hidden)), x],
                          axis=1)
    pos = self.param('pos_embedding', nn.initializers.normal(0.02),
                     (1, x.shape[1], self.hidden))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x + pos)
    for i in range(1, self.depth + 1):
      x = EncoderBlock(self.num_heads, self.mlp_dim, self.dropout_rate,
                       name=f'block{i}')(x, train)
    x = nn.LayerNorm(name='norm')(x)
    x = x[:, 0] if self.pool == 'cls' else jnp.mean(x, axis=1)
    return nn.Dense(self.num_classes, name='head')(x)


def vit_tiny(**kwargs) -> ViT:
  """ViT with 4x4 patches, width 64, 4 blocks of 4 heads, MLP 128."""
  return ViT(**kwargs)
