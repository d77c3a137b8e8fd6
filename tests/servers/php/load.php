<?php
// load.php: an allocation-heavy page for the servers/php-load test. The answer depends only on
// the query string, so runs with and without zmm must answer alike.
$n = isset($_GET['n']) ? (int)$_GET['n'] : 1;
$rows = [];
for ($i = 0; $i < 2000; $i++)
    $rows["k$n-$i"] = ['id' => $i * $n, 'name' => str_repeat(chr(97 + ($i + $n) % 26), 1 + $i % 40),
                       'tags' => array_fill(0, $i % 7, "t$n")];
ksort($rows);
$json = json_encode($rows);
$back = json_decode($json, true);
$words = explode(',', $json);
sort($words);
echo count($back), ' ', strlen($json), ' ', md5($json), ' ', md5(implode('|', array_slice($words, 0, 500))), "\n";
