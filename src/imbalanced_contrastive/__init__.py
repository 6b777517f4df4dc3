"""Contrastive learning for class-imbalanced and long-tailed recognition.

A small, tested library behind the companion book that reproduces and compares

* ACL / AFCL: Vito & Stefanus, "An Asymmetric Contrastive Loss for Handling Imbalanced
  Datasets" (arXiv 2207.07080);
* RCL: De Alvis et al., "Long-Tail Learning with Rebalanced Contrastive Loss"
  (arXiv 2312.01753), built on BCL (Zhu et al., CVPR 2022);
* ResCom: Zhong et al., "Rebalanced Siamese Contrastive Mining for Long-Tailed Recognition"
  (arXiv 2203.11506).
"""

from imbalanced_contrastive._meta import REPOSITORY_URL, __version__

__all__ = ["REPOSITORY_URL", "__version__"]
