"""Base ids for FHV dispatching bases: the Spark course's `crazy_stuff` UDF, declared for SQL models.

`select base_id(dispatching_base_num) from ...` works in any SQL model: sparkmodels registers the
functions below in the SparkSession before the models run.
"""

import numpy as np
import pandas as pd

from sparkmodels.udfs import udf


@udf("base_id", returns="string")
def base_id(base_num):
    """'B02510' -> 'e/9ce': s/ when the number divides by 7, a/ by 3, e/ otherwise; hex number."""
    if base_num is None:
        return None
    num = int(base_num[1:])
    if num % 7 == 0:
        return f"s/{num:03x}"
    elif num % 3 == 0:
        return f"a/{num:03x}"
    else:
        return f"e/{num:03x}"


@udf("base_id_vectorized", returns="string", vectorized=True)
def base_id_vectorized(base_num: pd.Series) -> pd.Series:
    """base_id over a whole Arrow batch: computed once per distinct base, then spread by index.

    A batch holds thousands of trips but only a few hundred bases, so dictionary-encoding the
    column (pd.factorize) and calling base_id per distinct value replaces per-row Python calls
    with one numpy take.
    """
    codes, uniques = pd.factorize(base_num)  # None -> code -1
    ids = np.array([base_id(u) for u in uniques] + [None], dtype=object)
    return pd.Series(ids[codes], index=base_num.index)
